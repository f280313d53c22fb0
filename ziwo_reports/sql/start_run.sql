-- A run left 'running' by a process that died is marked interrupted; then the new run begins.
UPDATE ingest_runs
SET status = 'interrupted', finished_at = now()
WHERE instance = $instance AND status = 'running';

INSERT INTO ingest_runs (instance, mode, first_day, last_day, status, started_at)
VALUES ($instance, $mode, $first_day, $last_day, 'running', now())
RETURNING run_id;
