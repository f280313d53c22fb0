-- Deliveries, newest first, each filter applied only when given. Unsent: neither sent nor held (a
-- digest's calls waiting for its next window: the workflow sends them, not a replay).
SELECT delivery_id, run_id, source, target_type, target_name, chunk_key, target, row_count, row_keys,
       payload_hash, status, attempts, last_error, target_ref, spec, options, planned_at, updated_at
FROM deliveries
WHERE ($status IS NULL OR status = $status)
  AND ($target IS NULL OR target_name = $target)
  AND ($run_id IS NULL OR run_id = $run_id)
  AND ($since IS NULL OR updated_at >= $since)
  AND ($ids IS NULL OR list_contains($ids, delivery_id))
  AND ($unsent IS NULL OR NOT $unsent OR status NOT IN ('sent', 'held'))
ORDER BY delivery_id DESC
LIMIT $limit;
