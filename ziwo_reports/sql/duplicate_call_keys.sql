-- Keys held more than once: always zero; the loader keeps (instance, call_id) unique.
SELECT count(*) FROM (
    SELECT instance, call_id FROM calls GROUP BY instance, call_id HAVING count(*) > 1
);
