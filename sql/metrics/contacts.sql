-- CTEs: contacts (all legs sharing contact_id) with a leg in the window, the legs they credit,
-- and their first-call resolution.
--   fcr_leg     the first inbound leg an agent answered: FCR is credited to its agent
--   csat_leg    the last (or, $csat_credit = 'first', the first) leg an agent handled
--   fcr_status  NULL when not eligible (no answered inbound leg, or a withheld number), else
--               'resolved', 'unresolved' or 'pending'. By repeat calls: unresolved when an inbound
--               contact from the same national number starts in (contact end, end + $fcr_window_s];
--               pending when that span reaches past $horizon (the data the warehouse holds) and no
--               repeat was found; else resolved. By disposition: resolved when a leg's disposition
--               is one of $resolved_dispositions. 'both': resolved only when both say so.

contact_summary AS (
    SELECT
        instance,
        contact_id,
        max(ended_at) AS contact_end,
        arg_min(caller_number, started_at) AS caller_number,
        arg_min(caller_digits, started_at) AS caller_digits,
        arg_min(call_id, answered_at) FILTER (WHERE direction = 'inbound' AND handled) AS fcr_leg,
        arg_min(call_id, answered_at) FILTER (WHERE handled) AS first_handled_leg,
        arg_max(call_id, answered_at) FILTER (WHERE handled) AS last_handled_leg,
        max(survey_score) AS survey_score,
        coalesce(bool_or(list_contains($resolved_dispositions::VARCHAR[], disposition)), false)
            AS resolved_by_disposition
    FROM report_legs
    GROUP BY instance, contact_id
    HAVING bool_or(in_window)
),

fcr_candidates AS (
    SELECT
        instance, contact_id, contact_end, resolved_by_disposition,
        national_number(caller_number, caller_digits, $country_code, $anonymous_numbers::VARCHAR[]) AS number
    FROM contact_summary
    WHERE fcr_leg IS NOT NULL
),

repeat_starts AS (
    SELECT
        instance,
        national_number(caller_number, caller_digits, $country_code, $anonymous_numbers::VARCHAR[]) AS number,
        started_at
    FROM calls
    WHERE ($instance::VARCHAR IS NULL OR instance = $instance::VARCHAR)
      AND direction = 'inbound'
      AND primary_call_id IS NULL
      AND started_at >= $window_start::TIMESTAMPTZ - INTERVAL 2 DAY
      AND started_at <= $horizon::TIMESTAMPTZ
),

next_contact AS (
    SELECT candidate.*, later.started_at AS next_start
    FROM fcr_candidates AS candidate
    ASOF LEFT JOIN repeat_starts AS later
        ON later.instance = candidate.instance
       AND later.number = candidate.number
       AND later.started_at > candidate.contact_end
    WHERE length(candidate.number) >= 6  -- shorter: not a person's number
),

fcr_by_repeat AS (
    SELECT
        instance, contact_id, resolved_by_disposition,
        CASE
            WHEN next_start <= contact_end + to_seconds($fcr_window_s::BIGINT) THEN 'unresolved'
            WHEN contact_end + to_seconds($fcr_window_s::BIGINT) > $horizon::TIMESTAMPTZ THEN 'pending'
            ELSE 'resolved'
        END AS by_repeat
    FROM next_contact
),

contact_outcomes AS (
    SELECT
        summary.instance,
        summary.contact_id,
        summary.fcr_leg,
        CASE $csat_credit WHEN 'first' THEN summary.first_handled_leg ELSE summary.last_handled_leg END AS csat_leg,
        summary.survey_score,
        CASE
            WHEN fcr.contact_id IS NULL THEN NULL
            WHEN $fcr_source = 'disposition' THEN
                CASE WHEN fcr.resolved_by_disposition THEN 'resolved' ELSE 'unresolved' END
            WHEN $fcr_source = 'both' AND NOT fcr.resolved_by_disposition THEN 'unresolved'
            ELSE fcr.by_repeat
        END AS fcr_status
    FROM contact_summary AS summary
    LEFT JOIN fcr_by_repeat AS fcr USING (instance, contact_id)
)
