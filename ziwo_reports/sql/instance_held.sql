-- Whether the warehouse holds anything of $instance: an ingest run, reference lists or calls. A
-- report on an instance it does not hold would be empty; EXISTS stops at the first row.
SELECT EXISTS (SELECT 1 FROM ingest_runs WHERE instance = $instance)
    OR EXISTS (SELECT 1 FROM agents WHERE instance = $instance)
    OR EXISTS (SELECT 1 FROM queues WHERE instance = $instance)
    OR EXISTS (SELECT 1 FROM calls WHERE instance = $instance);
