-- The earliest instance day the warehouse holds legs of (a full refresh re-reads from there).
SELECT min(source_date) FROM calls WHERE instance = $instance;
