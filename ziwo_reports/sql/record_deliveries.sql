-- What became of items, in one statement: the Arrow view `item_results` (delivery_id, status,
-- last_error, target_ref). Each is one more attempt.
UPDATE deliveries
SET status = result.status,
    attempts = attempts + 1,
    last_error = result.last_error,
    target_ref = coalesce(result.target_ref, deliveries.target_ref),
    updated_at = now()
FROM item_results AS result
WHERE deliveries.delivery_id = result.delivery_id;
