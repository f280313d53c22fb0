-- The instances the warehouse holds anything of, for the error naming an instance it does not
-- hold (a full scan of calls: only on that path).
SELECT instance FROM ingest_runs
UNION SELECT instance FROM agents
UNION SELECT instance FROM queues
UNION SELECT instance FROM calls
ORDER BY instance;
