-- The days of an instance whose latest listing check failed: the next run reads them again.
WITH latest_checks AS (
    SELECT day, verified
    FROM listing_checks
    WHERE instance = $instance
    QUALIFY row_number() OVER (PARTITION BY day ORDER BY run_id DESC) = 1
)

SELECT day
FROM latest_checks
WHERE NOT verified
ORDER BY day;
