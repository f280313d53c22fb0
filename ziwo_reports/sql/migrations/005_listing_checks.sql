-- How each day's call listing was verified, per run: the distinct records Ziwo listed for the
-- day (read over all passes), the server's own total when it gives one, and the passes it took.
-- A day whose latest check failed is read again by the next run (sql/unverified_days.sql).
CREATE TABLE listing_checks (
    run_id       BIGINT NOT NULL,
    instance     VARCHAR NOT NULL,
    day          DATE NOT NULL,       -- the instance day listed
    records_read INTEGER NOT NULL,    -- distinct records read, good and bad
    server_total INTEGER,             -- info.totalRecords, the latest seen; NULL when the server gives none
    passes       INTEGER NOT NULL,
    verified     BOOLEAN NOT NULL,
    problem      VARCHAR,             -- why it was not verified
    checked_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (run_id, day)
);
