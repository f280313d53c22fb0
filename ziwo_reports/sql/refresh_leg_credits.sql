-- Copy onto their legs what the contacts in `changed_contacts` (made by sql/refresh_contacts.sql)
-- credit them with: the columns of migration 004. Runs in the caller's transaction, after
-- refresh_contacts. $span_from/$span_until (sql/changed_span.sql) bound the starts of those
-- contacts' legs, so the scans skip the rest of the time.

-- The changed contacts first, on their own: joined to the legs, they are the small side.
CREATE OR REPLACE TEMP TABLE changed_credits AS
SELECT
    instance, contact_id, fcr_leg, first_handled_leg, last_handled_leg, national_number IS NOT NULL AS caller_known,
    ended_at, next_repeat_start, next_queue_repeat_start, next_agent_repeat_start, survey_score, array_to_string(dispositions, chr(31)) AS dispositions
FROM contacts
SEMI JOIN changed_contacts USING (instance, contact_id)
WHERE started_at >= $span_from::TIMESTAMPTZ AND started_at < $span_until::TIMESTAMPTZ;

UPDATE calls
SET
    is_fcr_leg = coalesce(calls.call_id = contact.fcr_leg, false),
    is_first_handled_leg = coalesce(calls.call_id = contact.first_handled_leg, false),
    is_last_handled_leg = coalesce(calls.call_id = contact.last_handled_leg, false),
    contact_caller_known = contact.caller_known,
    contact_ended_at = contact.ended_at,
    contact_next_repeat_start = contact.next_repeat_start,
    contact_next_queue_repeat_start = contact.next_queue_repeat_start,
    contact_next_agent_repeat_start = contact.next_agent_repeat_start,
    contact_survey_score = contact.survey_score,
    contact_dispositions = contact.dispositions
FROM changed_credits AS contact
WHERE calls.instance = contact.instance AND calls.contact_id = contact.contact_id
  AND calls.started_at >= $span_from::TIMESTAMPTZ AND calls.started_at < $span_until::TIMESTAMPTZ;
