-- The delivery ledger: one row per item of one delivery (a file, a request, a chunk of rows) to
-- one target. Written before the item is sent (planned) and again when it was (sent, failed,
-- gave_up), each in its own transaction, so a crash leaves `planned` rows that `replay` sends.
-- No secret enters it: options are stored as dumped by their models (secrets masked) and redacted.
CREATE SEQUENCE delivery_ids START 1;

CREATE TABLE deliveries (
    delivery_id  BIGINT PRIMARY KEY DEFAULT nextval('delivery_ids'),
    run_id       VARCHAR NOT NULL,      -- the delivering run: a Prefect flow run id, or the command's own
    source       VARCHAR NOT NULL,      -- what delivered: a flow or workflow name, `report` or `demo` for the CLI
    target_type  VARCHAR NOT NULL,      -- file, webhook, ...
    target_name  VARCHAR NOT NULL,
    chunk_key    VARCHAR NOT NULL,      -- the item's key: stable across reruns of the same period
    target       VARCHAR NOT NULL,      -- where it goes: a path, a URL
    row_count    INTEGER NOT NULL,
    row_keys     VARCHAR[],             -- the rows' stable keys, where the target keys rows
    payload_hash VARCHAR NOT NULL,      -- sha256 of what was (to be) sent
    status       VARCHAR NOT NULL,      -- planned, sent, failed, gave_up
    attempts     INTEGER NOT NULL,
    last_error   VARCHAR,               -- redacted, one line
    target_ref   VARCHAR,               -- the target's own reference: a path, a message or job id
    spec         JSON NOT NULL,         -- the report's spec, its "now" pinned: replay computes the same window
    options      JSON NOT NULL,         -- the target's options (secrets masked)
    planned_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
