-- Load a staged batch of call legs (the Arrow view `staged_calls`): new legs are inserted,
-- changed legs replace their old version, unchanged legs are left as they are.
-- Returns (new, updated). Runs inside the caller's transaction; the contacts of the legs it
-- changed (before and after) are left in `touched_contacts` for sql/refresh_contacts.sql.

CREATE OR REPLACE TEMP TABLE call_changes AS
SELECT
    staged.*,
    held.first_loaded_run AS held_first_run,
    held.contact_id AS held_contact_id,
    held.started_at AS held_started_at
FROM staged_calls AS staged
LEFT JOIN calls AS held
    ON held.instance = staged.instance AND held.call_id = staged.call_id
WHERE held.call_id IS NULL OR held.record_hash <> staged.record_hash;

CREATE OR REPLACE TEMP TABLE touched_contacts AS
SELECT instance, contact_id, started_at FROM call_changes
UNION ALL
SELECT instance, held_contact_id, held_started_at FROM call_changes WHERE held_contact_id IS NOT NULL;

DELETE FROM calls
USING call_changes AS changed
WHERE calls.instance = changed.instance
  AND calls.call_id = changed.call_id
  AND changed.held_first_run IS NOT NULL;

INSERT INTO calls BY NAME
SELECT
    * EXCLUDE (held_first_run, held_contact_id, held_started_at),
    coalesce(held_first_run, $run_id) AS first_loaded_run,
    $run_id AS last_changed_run,
    now() AS loaded_at
FROM call_changes;

SELECT
    count(*) FILTER (WHERE held_first_run IS NULL) AS new,
    count(*) FILTER (WHERE held_first_run IS NOT NULL) AS updated
FROM call_changes;
