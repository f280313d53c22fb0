-- Contacts: one row per contact (all legs sharing contact_id), kept by the ingest beside the legs
-- (sql/refresh_contacts.sql) so a report reads what it credits instead of working it out again:
-- which leg first-call resolution and CSAT credit, and when the caller next called.
CREATE TABLE contacts (
    instance           VARCHAR NOT NULL,
    contact_id         VARCHAR NOT NULL,
    country_code       VARCHAR NOT NULL,   -- the instance's, with which national_number was made
    caller_number      VARCHAR,            -- the first leg's, as shown
    national_number    VARCHAR,            -- NULL: withheld, or too short to be a person's number
    number_key         UBIGINT,            -- md5_number_lower(instance/national_number): a caller, as an integer
    started_at         TIMESTAMPTZ NOT NULL,  -- the first leg's start
    ended_at           TIMESTAMPTZ,        -- the last leg's end
    repeat_start       TIMESTAMPTZ,        -- set when the contact opened with an inbound leg: a call back
    fcr_leg            VARCHAR,            -- the first inbound leg an agent answered
    first_handled_leg  VARCHAR,
    last_handled_leg   VARCHAR,
    survey_score       SMALLINT,
    dispositions       VARCHAR[] NOT NULL,
    next_repeat_start  TIMESTAMPTZ         -- the same number's next call back after ended_at, if held
);
