-- How many rows each warehouse table holds for one instance.
SELECT 'calls', count(*) FROM calls WHERE instance = $instance
UNION ALL SELECT 'agents', count(*) FROM agents WHERE instance = $instance
UNION ALL SELECT 'teams', count(*) FROM teams WHERE instance = $instance
UNION ALL SELECT 'queues', count(*) FROM queues WHERE instance = $instance
UNION ALL SELECT 'numbers', count(*) FROM numbers WHERE instance = $instance
UNION ALL SELECT 'quarantine', count(*) FROM quarantine WHERE instance = $instance
UNION ALL SELECT 'ingest_runs', count(*) FROM ingest_runs WHERE instance = $instance;
