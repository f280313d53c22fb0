-- Build again the contacts of `touched_contacts` (made by load_calls, remove_unlisted_calls or
-- touch_all_contacts, with the start of each touched leg), then the next call back of every
-- contact sharing a national number with one of them, old or new. Runs in the caller's
-- transaction. The span parameters (sql/touched_span.sql) bound the starts of the touched
-- contacts' legs, so the scans of calls and contacts skip the rest of the time (both tables are
-- kept roughly in time order); a caller's other contacts are found by number_key.

-- A caller's national number, for telling repeat callers: the digits of the number as shown
-- (calls.caller_digits) without the international prefix (00) and the country code, and without the
-- trunk 0. NULL when the number is withheld (one of `anonymous_numbers`, lower case) or shorter
-- than 6 digits (not a person's number).
CREATE OR REPLACE TEMP MACRO without_country(d, cc) AS
    CASE
        WHEN starts_with(d, '00' || cc) THEN substr(d, 3 + length(cc))
        WHEN starts_with(d, cc) AND length(d) >= length(cc) + 7 THEN substr(d, 1 + length(cc))
        WHEN starts_with(d, '00') THEN substr(d, 3)
        ELSE d
    END;

CREATE OR REPLACE TEMP MACRO national_number(number, digits, cc, anonymous) AS
    CASE
        WHEN list_contains(anonymous, lower(trim(coalesce(number, '')))) THEN NULL
        WHEN length(ltrim(without_country(digits, cc), '0')) < 6 THEN NULL
        ELSE ltrim(without_country(digits, cc), '0')
    END;

CREATE OR REPLACE TEMP TABLE fresh_contacts AS
WITH
contact_legs AS (
    SELECT
        instance, contact_id, call_id, direction, caller_number, caller_digits, queue_id, started_at, answered_at,
        ended_at, survey_score, disposition,
        agent_id IS NOT NULL AND answered_at IS NOT NULL AS handled
    FROM calls
    SEMI JOIN touched_contacts USING (instance, contact_id)
    WHERE started_at >= $span_from::TIMESTAMPTZ AND started_at < $span_until::TIMESTAMPTZ
),

contact_summary AS (
    SELECT
        instance,
        contact_id,
        $country_code AS country_code,
        arg_min(caller_number, started_at) AS caller_number,
        national_number(
            arg_min(caller_number, started_at), arg_min(caller_digits, started_at), $country_code,
            $anonymous_numbers::VARCHAR[]
        ) AS national_number,
        min(started_at) AS started_at,
        max(ended_at) AS ended_at,
        min(started_at) FILTER (WHERE call_id = contact_id AND direction = 'inbound') AS repeat_start,
        -- the same call back, when it reached a queue; when an agent answered it
        CASE WHEN bool_or(direction = 'inbound' AND queue_id IS NOT NULL)
            THEN min(started_at) FILTER (WHERE call_id = contact_id AND direction = 'inbound') END AS queue_repeat_start,
        CASE WHEN bool_or(direction = 'inbound' AND handled)
            THEN min(started_at) FILTER (WHERE call_id = contact_id AND direction = 'inbound') END AS agent_repeat_start,
        arg_min(call_id, answered_at) FILTER (WHERE direction = 'inbound' AND handled) AS fcr_leg,
        arg_min(call_id, answered_at) FILTER (WHERE handled) AS first_handled_leg,
        arg_max(call_id, answered_at) FILTER (WHERE handled) AS last_handled_leg,
        max(survey_score) AS survey_score,
        coalesce(list_sort(list_distinct(list(disposition))), []) AS dispositions
    FROM contact_legs
    GROUP BY instance, contact_id
)

SELECT *, md5_number_lower(instance || '/' || national_number) AS number_key FROM contact_summary;

-- The callers of the touched contacts, before and after.
CREATE OR REPLACE TEMP TABLE touched_numbers AS
SELECT DISTINCT instance, national_number, number_key
FROM (
    SELECT instance, national_number, number_key FROM fresh_contacts
    UNION ALL
    SELECT instance, national_number, number_key
    FROM contacts
    SEMI JOIN touched_contacts USING (instance, contact_id)
    WHERE started_at >= $span_from::TIMESTAMPTZ AND started_at < $span_until::TIMESTAMPTZ
)
WHERE national_number IS NOT NULL;

DELETE FROM contacts
USING touched_contacts AS touched
WHERE contacts.instance = touched.instance AND contacts.contact_id = touched.contact_id
  AND contacts.started_at >= $span_from::TIMESTAMPTZ AND contacts.started_at < $span_until::TIMESTAMPTZ;

INSERT INTO contacts BY NAME
SELECT
    *, NULL::TIMESTAMPTZ AS next_repeat_start, NULL::TIMESTAMPTZ AS next_queue_repeat_start,
    NULL::TIMESTAMPTZ AS next_agent_repeat_start
FROM fresh_contacts
ORDER BY started_at;  -- in time order, so a report's scan of a few days skips the rest

-- Every contact of those callers gets its next call back again: the first repeat_start of the
-- same caller after its end; and of each kind, the first queue_repeat_start and agent_repeat_start.
-- A caller is told by number_key: an integer is quick to find among every contact, where the
-- text would be read for each. (Two callers sharing a 64-bit key: about one chance in 300,000 for
-- 10 million callers.)
CREATE OR REPLACE TEMP TABLE next_call_backs AS
WITH
same_callers AS (
    SELECT
        rowid AS row_id, number_key, ended_at, repeat_start, queue_repeat_start, agent_repeat_start,
        next_repeat_start, next_queue_repeat_start, next_agent_repeat_start
    FROM contacts
    WHERE number_key IN (SELECT number_key FROM touched_numbers)
),

call_backs AS (
    SELECT number_key, repeat_start FROM same_callers WHERE repeat_start IS NOT NULL
),

queue_call_backs AS (
    SELECT number_key, queue_repeat_start FROM same_callers WHERE queue_repeat_start IS NOT NULL
),

agent_call_backs AS (
    SELECT number_key, agent_repeat_start FROM same_callers WHERE agent_repeat_start IS NOT NULL
)

SELECT
    contact.row_id,
    contact.next_repeat_start AS held_start,
    call_back.repeat_start AS next_start,
    contact.next_queue_repeat_start AS held_queue_start,
    queue_call_back.queue_repeat_start AS next_queue_start,
    contact.next_agent_repeat_start AS held_agent_start,
    agent_call_back.agent_repeat_start AS next_agent_start
FROM same_callers AS contact
ASOF LEFT JOIN call_backs AS call_back
    ON call_back.number_key = contact.number_key
   AND call_back.repeat_start > contact.ended_at
ASOF LEFT JOIN queue_call_backs AS queue_call_back
    ON queue_call_back.number_key = contact.number_key
   AND queue_call_back.queue_repeat_start > contact.ended_at
ASOF LEFT JOIN agent_call_backs AS agent_call_back
    ON agent_call_back.number_key = contact.number_key
   AND agent_call_back.agent_repeat_start > contact.ended_at;

-- Only the contacts whose next call back of some kind moved.
DELETE FROM next_call_backs
WHERE next_start IS NOT DISTINCT FROM held_start
  AND next_queue_start IS NOT DISTINCT FROM held_queue_start
  AND next_agent_start IS NOT DISTINCT FROM held_agent_start;

-- The contacts whose legs' credits change (sql/refresh_leg_credits.sql): those built again, and
-- those with a new next call back.
CREATE OR REPLACE TEMP TABLE changed_contacts AS
SELECT instance, contact_id, started_at FROM fresh_contacts
UNION
SELECT contacts.instance, contacts.contact_id, contacts.started_at
FROM contacts
JOIN next_call_backs AS later ON contacts.rowid = later.row_id;

UPDATE contacts
SET
    next_repeat_start = later.next_start,
    next_queue_repeat_start = later.next_queue_start,
    next_agent_repeat_start = later.next_agent_start
FROM next_call_backs AS later
WHERE contacts.rowid = later.row_id;
