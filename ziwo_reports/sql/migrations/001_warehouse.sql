-- The warehouse schema, version 1. A documented public interface: see docs/warehouse.md.
-- Every row is keyed by `instance` (the Ziwo call center) plus its Ziwo id, so several
-- instances can share one file. Timestamps are instants (TIMESTAMPTZ, stored in UTC).

-- One row per call leg, as last seen in Ziwo. Key: (instance, call_id), kept unique by the
-- loader (delete + insert of changed rows in one transaction) rather than by an index:
-- DuckDB's primary-key index makes those updates 20-50 times slower (bench figures in README).
CREATE TABLE calls (
    instance              VARCHAR NOT NULL,
    call_id               VARCHAR NOT NULL,
    primary_call_id       VARCHAR,
    contact_id            VARCHAR NOT NULL,  -- primary_call_id, or call_id on a contact's first leg
    ziwo_id               BIGINT,
    direction             VARCHAR,
    caller_number         VARCHAR,
    caller_name           VARCHAR,
    did_called            VARCHAR,
    agent_id              BIGINT,
    queue_id              BIGINT,
    queue_name            VARCHAR,
    started_at            TIMESTAMPTZ NOT NULL,
    queue_entered_at      TIMESTAMPTZ,
    agent_ring_started_at TIMESTAMPTZ,
    answered_at           TIMESTAMPTZ,
    ended_at              TIMESTAMPTZ,
    duration_s            INTEGER,
    ivr_time_s            INTEGER,
    queue_wait_time_s     INTEGER,
    ring_time_s           INTEGER,
    talk_time_s           INTEGER,
    hold_time_s           INTEGER,
    wrap_up_time_s        INTEGER,
    result                VARCHAR,
    hangup_by             VARCHAR,
    hangup_cause          VARCHAR,
    disposition           VARCHAR,
    recording_file        VARCHAR,
    survey_score          SMALLINT,
    tags                  VARCHAR[] NOT NULL,
    source_date           DATE NOT NULL,      -- the instance day Ziwo listed the leg under
    raw                   JSON NOT NULL,      -- the record exactly as Ziwo sent it
    record_hash           VARCHAR NOT NULL,   -- md5 of raw: tells changed from unchanged
    first_loaded_run      BIGINT NOT NULL,
    last_changed_run      BIGINT NOT NULL,
    loaded_at             TIMESTAMPTZ NOT NULL
);

CREATE TABLE agents (
    instance       VARCHAR NOT NULL,
    agent_id       BIGINT NOT NULL,
    first_name     VARCHAR,
    last_name      VARCHAR,
    username       VARCHAR,
    cc_login       VARCHAR,
    team_id        BIGINT,
    team_name      VARCHAR,
    wrap_up_time_s INTEGER,   -- the agent's configured after-call work
    status         VARCHAR,
    created_at     TIMESTAMPTZ,
    deleted_at     TIMESTAMPTZ,  -- set when the agent left; the row and its calls stay
    raw            JSON NOT NULL,
    record_hash    VARCHAR NOT NULL,
    first_seen_at  TIMESTAMPTZ NOT NULL,
    changed_at     TIMESTAMPTZ NOT NULL,  -- when Ziwo's record last changed
    unlisted_at    TIMESTAMPTZ,           -- when Ziwo stopped listing it (NULL while listed)
    PRIMARY KEY (instance, agent_id)
);

CREATE TABLE teams (
    instance      VARCHAR NOT NULL,
    team_id       BIGINT NOT NULL,
    name          VARCHAR,
    first_seen_at TIMESTAMPTZ NOT NULL,
    changed_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (instance, team_id)
);

CREATE TABLE queues (
    instance        VARCHAR NOT NULL,
    queue_id        BIGINT NOT NULL,
    name            VARCHAR,
    survey_required BOOLEAN,
    status          VARCHAR,
    deleted_at      TIMESTAMPTZ,
    raw             JSON NOT NULL,
    record_hash     VARCHAR NOT NULL,
    first_seen_at   TIMESTAMPTZ NOT NULL,
    changed_at      TIMESTAMPTZ NOT NULL,
    unlisted_at     TIMESTAMPTZ,
    PRIMARY KEY (instance, queue_id)
);

CREATE TABLE numbers (
    instance      VARCHAR NOT NULL,
    number_id     BIGINT NOT NULL,
    did           VARCHAR,
    link_type     VARCHAR,
    link_data     VARCHAR,
    status        VARCHAR,
    deleted_at    TIMESTAMPTZ,
    raw           JSON NOT NULL,
    record_hash   VARCHAR NOT NULL,
    first_seen_at TIMESTAMPTZ NOT NULL,
    changed_at    TIMESTAMPTZ NOT NULL,
    unlisted_at   TIMESTAMPTZ,
    PRIMARY KEY (instance, number_id)
);

-- Records that could not be loaded, with why. Key: (instance, stream, record_key), record_key
-- being the Ziwo id (callID for calls), or a hash of the record when it has none. A record that
-- later arrives valid leaves the quarantine.
CREATE TABLE quarantine (
    instance           VARCHAR NOT NULL,
    stream             VARCHAR NOT NULL,  -- calls, agents, queues, numbers
    record_key         VARCHAR NOT NULL,
    call_id            VARCHAR,
    source_date        DATE,
    check_stage        VARCHAR NOT NULL,  -- 'parse': the client's checks; 'validate': the data-quality suite
    reason             VARCHAR NOT NULL,  -- a reject reason, or the expectation that failed
    detail             VARCHAR NOT NULL,
    raw                JSON NOT NULL,
    record_hash        VARCHAR NOT NULL,  -- md5 of raw; the same bad record met again is left alone
    run_id             BIGINT NOT NULL,   -- the run that quarantined this version
    quarantined_at     TIMESTAMPTZ NOT NULL
);

-- A cursor per instance and stream: the latest started_at loaded. Written in the same
-- transaction as the rows it covers.
CREATE TABLE ingest_state (
    instance   VARCHAR NOT NULL,
    stream     VARCHAR NOT NULL,
    cursor     TIMESTAMPTZ,
    run_id     BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (instance, stream)
);

CREATE SEQUENCE ingest_run_ids START 1;

-- One row per ingest run; the counts move in the same transactions as the data.
CREATE TABLE ingest_runs (
    run_id      BIGINT PRIMARY KEY DEFAULT nextval('ingest_run_ids'),
    instance    VARCHAR NOT NULL,
    mode        VARCHAR NOT NULL,      -- incremental, backfill, full_refresh
    first_day   DATE NOT NULL,
    last_day    DATE NOT NULL,
    status      VARCHAR NOT NULL,      -- running, succeeded, failed, interrupted
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    days_done   INTEGER NOT NULL DEFAULT 0,
    pages       INTEGER NOT NULL DEFAULT 0,
    records     INTEGER NOT NULL DEFAULT 0,  -- legs read from Ziwo
    new         INTEGER NOT NULL DEFAULT 0,
    updated     INTEGER NOT NULL DEFAULT 0,
    unchanged   INTEGER NOT NULL DEFAULT 0,
    removed     INTEGER NOT NULL DEFAULT 0,  -- full refresh: legs Ziwo no longer lists
    quarantined INTEGER NOT NULL DEFAULT 0,
    retries     INTEGER NOT NULL DEFAULT 0,
    relogins    INTEGER NOT NULL DEFAULT 0,
    error       VARCHAR
);
