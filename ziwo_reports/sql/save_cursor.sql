-- Move a stream's cursor forward (never back) to the latest started_at just loaded.
INSERT INTO ingest_state (instance, stream, cursor, run_id, updated_at)
VALUES ($instance, $stream, $cursor, $run_id, now())
ON CONFLICT (instance, stream) DO UPDATE
SET cursor = excluded.cursor, run_id = excluded.run_id, updated_at = excluded.updated_at
WHERE ingest_state.cursor IS NULL OR excluded.cursor > ingest_state.cursor;
