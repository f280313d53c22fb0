-- CTE: the contacts (table `contacts`, kept by the ingest) of the report's legs, with the legs
-- they credit and their first-call resolution.
--   fcr_leg     the first inbound leg an agent answered: FCR is credited to its agent
--   csat_leg    the last (or, $csat_credit = 'first', the first) leg an agent handled
--   fcr_status  NULL when not eligible (no answered inbound leg, or no national number: withheld
--               or not a person's), else 'resolved', 'unresolved' or 'pending'. By repeat calls:
--               unresolved when the same national number calls back (an inbound contact starts)
--               in (contact end, end + $fcr_window_s] and by $horizon (the data the warehouse
--               holds); else pending when that span reaches past $horizon; else resolved. By
--               disposition: resolved when a leg's disposition is one of $resolved_dispositions.
--               'both': resolved only when both say so.

contact_outcomes AS (
    SELECT
        instance,
        contact_id,
        fcr_leg,
        CASE $csat_credit WHEN 'first' THEN first_handled_leg ELSE last_handled_leg END AS csat_leg,
        survey_score AS contact_score,
        CASE
            WHEN fcr_leg IS NULL OR national_number IS NULL THEN NULL
            WHEN $fcr_source = 'disposition' THEN
                CASE WHEN list_has_any(dispositions, $resolved_dispositions::VARCHAR[]) THEN 'resolved'
                     ELSE 'unresolved' END
            WHEN $fcr_source = 'both' AND NOT list_has_any(dispositions, $resolved_dispositions::VARCHAR[])
                THEN 'unresolved'
            WHEN next_repeat_start <= least(ended_at + to_seconds($fcr_window_s::BIGINT), $horizon::TIMESTAMPTZ)
                THEN 'unresolved'
            WHEN ended_at + to_seconds($fcr_window_s::BIGINT) > $horizon::TIMESTAMPTZ THEN 'pending'
            ELSE 'resolved'
        END AS fcr_status
    FROM contacts
    WHERE ($instance::VARCHAR IS NULL OR instance = $instance::VARCHAR)
      -- a contact holding a leg of the report started at most a day before that leg
      AND started_at >= $legs_from::TIMESTAMPTZ - INTERVAL 1 DAY
      AND started_at < $legs_until::TIMESTAMPTZ
)
