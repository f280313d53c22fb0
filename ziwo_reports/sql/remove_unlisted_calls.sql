-- Full refresh, at the end: legs of the refreshed days that Ziwo no longer lists are removed,
-- except on days whose listing this run could not verify (a leg missing there may just be unread).
-- Returns how many. Their contacts are left in `touched_contacts` for sql/refresh_contacts.sql.
CREATE OR REPLACE TEMP TABLE unlisted_calls AS
SELECT instance, call_id, contact_id, started_at
FROM calls
WHERE instance = $instance
  AND source_date BETWEEN $first_day AND $last_day
  AND source_date NOT IN (SELECT day FROM listing_checks WHERE run_id = $run_id AND NOT verified)
  AND call_id NOT IN (SELECT call_id FROM listed_calls);

CREATE OR REPLACE TEMP TABLE touched_contacts AS
SELECT instance, contact_id, started_at
FROM unlisted_calls;

DELETE FROM calls
WHERE instance = $instance
  AND call_id IN (SELECT call_id FROM unlisted_calls);
