-- The items of one delivery, about to be sent: `planned`, before anything goes out, all in one
-- statement. The items are the Arrow view `planned_items` (position, chunk_key, target,
-- row_count, row_keys, payload_hash). Returns (delivery_id, chunk_key) per item.
INSERT INTO deliveries (
    run_id, source, target_type, target_name, chunk_key, target, row_count, row_keys, payload_hash,
    status, attempts, spec, options, planned_at, updated_at
)
SELECT
    $run_id, $source, $target_type, $target_name, chunk_key, target, row_count, row_keys, payload_hash,
    'planned', 0, $spec, $options, now(), now()
FROM planned_items
ORDER BY position
RETURNING delivery_id, chunk_key;
