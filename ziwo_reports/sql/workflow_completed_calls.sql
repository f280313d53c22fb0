-- The completed calls (ended_at set) an after_call workflow has not seen: with on_change 'once',
-- those first loaded in a run after $after_run and up to $up_to_run; with 'again', those last
-- changed in such a run (a call changed again by a later run comes with that run); with
-- $ended_from, only those that ended from then on (a new workflow's first batch). Each with its
-- version: the run that last changed it.
SELECT instance, call_id, last_changed_run AS version, started_at
FROM calls
WHERE ($instance::VARCHAR IS NULL OR instance = $instance::VARCHAR)
  AND ended_at IS NOT NULL
  AND ($ended_from::TIMESTAMPTZ IS NULL OR ended_at >= $ended_from::TIMESTAMPTZ)
  AND (CASE WHEN $on_change = 'again' THEN last_changed_run ELSE first_loaded_run END) > $after_run
  AND (CASE WHEN $on_change = 'again' THEN last_changed_run ELSE first_loaded_run END) <= $up_to_run
ORDER BY started_at, call_id;
