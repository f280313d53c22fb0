-- What became of an item: one more attempt, its status, error and the target's reference.
UPDATE deliveries
SET status = $status,
    attempts = attempts + 1,
    last_error = $last_error,
    target_ref = coalesce($target_ref, target_ref),
    payload_hash = coalesce($payload_hash, payload_hash),
    updated_at = now()
WHERE delivery_id = $delivery_id;
