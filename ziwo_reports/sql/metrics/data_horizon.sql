-- How far the warehouse's data reaches: the ingest cursor (latest started_at loaded), else the
-- latest leg held. First-call resolution treats repeat windows reaching past it as pending.
SELECT coalesce(
    (SELECT max(cursor) FROM ingest_state WHERE stream = 'calls' AND ($instance::VARCHAR IS NULL OR instance = $instance::VARCHAR)),
    (SELECT max(started_at) FROM calls WHERE $instance::VARCHAR IS NULL OR instance = $instance::VARCHAR)
);
