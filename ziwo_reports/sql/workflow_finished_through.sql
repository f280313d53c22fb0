-- The newest ingest run id up to which every run (of the instance; NULL: of all) has finished,
-- and when it finished: below the oldest run still `running`, whose calls may be half loaded and
-- come in a later batch. (0, NULL) when no run has finished.
WITH running AS (
    SELECT min(run_id) AS oldest FROM ingest_runs
    WHERE ($instance::VARCHAR IS NULL OR instance = $instance::VARCHAR) AND status = 'running'
)
SELECT coalesce(max(run_id), 0), arg_max(finished_at, run_id)
FROM ingest_runs, running
WHERE ($instance::VARCHAR IS NULL OR instance = $instance::VARCHAR)
  AND status <> 'running'
  AND (running.oldest IS NULL OR run_id < running.oldest);
