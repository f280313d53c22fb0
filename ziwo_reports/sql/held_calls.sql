-- The callIDs an instance holds for instance days first_day..last_day (the demo's ground-truth check).
SELECT call_id FROM calls
WHERE instance = $instance AND source_date BETWEEN $first_day AND $last_day;
