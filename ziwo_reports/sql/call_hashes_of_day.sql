-- The legs already held for one instance day, to tell unchanged legs before staging them.
SELECT call_id, record_hash
FROM calls
WHERE instance = $instance AND source_date = $day;
