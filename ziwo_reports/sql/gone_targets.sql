-- Targets of a type whose last word was 410 Gone: nothing has been sent to them since. Returns
-- (target, delivery_id, updated_at) of that item, one per gone target among $targets.
WITH outcomes AS (
    SELECT
        target,
        status,
        delivery_id,
        updated_at,
        row_number() OVER (PARTITION BY target ORDER BY updated_at DESC, delivery_id DESC) AS newest
    FROM deliveries
    WHERE target_type = $target_type
      AND list_contains($targets, target)
      AND status IN ('sent', 'gone')
)
SELECT target, delivery_id, updated_at
FROM outcomes
WHERE newest = 1 AND status = 'gone'
ORDER BY target;
