-- An item about to be sent: `planned`, before anything goes out. Returns its delivery_id.
INSERT INTO deliveries (
    run_id, source, target_type, target_name, chunk_key, target, row_count, row_keys, payload_hash,
    status, attempts, spec, options, planned_at, updated_at
)
VALUES (
    $run_id, $source, $target_type, $target_name, $chunk_key, $target, $row_count, $row_keys, $payload_hash,
    'planned', 0, $spec, $options, now(), now()
)
RETURNING delivery_id;
