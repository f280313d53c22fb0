-- Full refresh, at the end: legs of the refreshed days that Ziwo no longer lists are removed.
-- Returns how many.
DELETE FROM calls
WHERE instance = $instance
  AND source_date BETWEEN $first_day AND $last_day
  AND call_id NOT IN (SELECT call_id FROM listed_calls);
