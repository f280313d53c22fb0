-- After a full refresh: the cursor is the latest started_at the instance holds.
INSERT INTO ingest_state (instance, stream, cursor, run_id, updated_at)
SELECT $instance, 'calls', max(started_at), $run_id, now()
FROM calls
WHERE instance = $instance
ON CONFLICT (instance, stream) DO UPDATE
SET cursor = excluded.cursor, run_id = excluded.run_id, updated_at = excluded.updated_at;
