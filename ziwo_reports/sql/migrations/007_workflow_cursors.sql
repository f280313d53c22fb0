-- Where each workflow has read up to: the ingest run id whose calls it has seen (every finished
-- run up to it), and when it moved there. An `after_call` workflow reads the calls of the runs
-- after it, delivers them, then moves it, in a transaction of its own (see docs/warehouse.md).
CREATE TABLE workflow_cursors (
    workflow   VARCHAR PRIMARY KEY,
    run_id     BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
