-- Full refresh, at the end: legs of the refreshed days that Ziwo no longer lists are removed.
-- Returns how many. Their contacts are left in `touched_contacts` for sql/refresh_contacts.sql.
CREATE OR REPLACE TEMP TABLE touched_contacts AS
SELECT instance, contact_id, started_at
FROM calls
WHERE instance = $instance
  AND source_date BETWEEN $first_day AND $last_day
  AND call_id NOT IN (SELECT call_id FROM listed_calls);

DELETE FROM calls
WHERE instance = $instance
  AND source_date BETWEEN $first_day AND $last_day
  AND call_id NOT IN (SELECT call_id FROM listed_calls);
