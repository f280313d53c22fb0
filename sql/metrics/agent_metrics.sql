-- CTEs: the agent metrics of the report's legs, per group ($group_by: agent, team, queue or
-- none) and interval, as `agent_metrics`. Only legs with an agent count: every metric here is
-- about what agents did ($queue_legs_only: only their inbound queue legs, for the queue report). Formulas (docs/metrics.md words them the same way):
--   calls_offered      inbound legs that rang the agent (agent_ring_started_at set)
--   calls_answered     inbound legs the agent answered
--   calls_missed       inbound legs that rang the agent and were not answered
--   outbound_calls     outbound legs placed by the agent
--   calls_handled      legs the agent connected on (answered), inbound or outbound
--   avg_talk_time_s    total talk of handled legs / calls_handled
--   avg_hold_time_s    total hold / calls_put_on_hold (or / calls_handled, $hold_average = 'handled')
--   avg_handle_time_s  (talk + hold + wrap-up of handled legs) / calls_handled
--   avg_call_duration_s  average of answered_at -> ended_at over handled legs
--   transfer_rate      transfers_out / calls_handled
--   fcr_rate           fcr_resolved / (fcr_eligible - fcr_pending)
--   csat_pct           100 * responses scoring 4 or 5 / csat_responses
-- A ratio whose denominator is zero is NULL.

grouped_legs AS (
    SELECT
        *,
        CASE $group_by WHEN 'agent' THEN agent_id WHEN 'team' THEN team_id WHEN 'queue' THEN queue_id END AS group_id,
        CASE $group_by
            WHEN 'agent' THEN coalesce(agent_name, 'agent ' || agent_id)
            WHEN 'team' THEN coalesce(team_name, '(no team)')
            WHEN 'queue' THEN coalesce(queue_name, '(no queue)')
            ELSE 'all'
        END AS group_name
    FROM report_legs
    WHERE in_window AND passes AND agent_id IS NOT NULL
      AND (NOT $queue_legs_only OR (direction = 'inbound' AND queue_id IS NOT NULL))
),

leg_counts AS (
    SELECT
        instance, group_id, any_value(group_name) AS group_name, period,
        count(*) FILTER (WHERE direction = 'inbound' AND agent_ring_started_at IS NOT NULL) AS calls_offered,
        count(*) FILTER (WHERE direction = 'inbound' AND handled) AS calls_answered,
        count(*) FILTER (
            WHERE direction = 'inbound' AND agent_ring_started_at IS NOT NULL AND answered_at IS NULL
        ) AS calls_missed,
        count(*) FILTER (WHERE direction = 'outbound') AS outbound_calls,
        count(*) FILTER (WHERE handled) AS calls_handled,
        coalesce(sum(talk_time_s) FILTER (WHERE handled), 0)::BIGINT AS total_talk_time_s,
        coalesce(sum(hold_time_s) FILTER (WHERE handled), 0)::BIGINT AS total_hold_time_s,
        count(*) FILTER (WHERE handled AND hold_time_s > 0) AS calls_put_on_hold,
        max(hold_time_s) FILTER (WHERE handled) AS longest_hold_s,
        coalesce(sum(wrap_up_s) FILTER (WHERE handled), 0)::BIGINT AS total_wrap_up_time_s,
        avg(epoch(ended_at) - epoch(answered_at)) FILTER (WHERE handled) AS avg_call_duration_s,
        count(*) FILTER (WHERE handled AND transferred) AS transfers_out
    FROM grouped_legs
    GROUP BY instance, group_id, period
),

fcr_counts AS (
    SELECT
        legs.instance, legs.group_id, legs.period,
        count(*) AS fcr_eligible,
        count(*) FILTER (WHERE outcome.fcr_status = 'resolved') AS fcr_resolved,
        count(*) FILTER (WHERE outcome.fcr_status = 'pending') AS fcr_pending
    FROM contact_outcomes AS outcome
    JOIN grouped_legs AS legs ON legs.instance = outcome.instance AND legs.call_id = outcome.fcr_leg
    WHERE outcome.fcr_status IS NOT NULL
    GROUP BY ALL
),

csat_counts AS (
    SELECT
        legs.instance, legs.group_id, legs.period,
        count(*) AS csat_responses,
        avg(outcome.survey_score) AS csat_avg,
        count(*) FILTER (WHERE outcome.survey_score >= 4) AS csat_top2
    FROM contact_outcomes AS outcome
    JOIN grouped_legs AS legs ON legs.instance = outcome.instance AND legs.call_id = outcome.csat_leg
    WHERE outcome.survey_score IS NOT NULL
    GROUP BY ALL
),

agent_metrics AS (
    SELECT
        leg.instance, leg.group_id, leg.group_name, leg.period,
        leg.calls_offered, leg.calls_answered, leg.calls_missed, leg.outbound_calls, leg.calls_handled,
        leg.total_talk_time_s,
        leg.total_talk_time_s / nullif(leg.calls_handled, 0) AS avg_talk_time_s,
        leg.total_hold_time_s,
        leg.calls_put_on_hold,
        leg.total_hold_time_s
            / nullif(CASE $hold_average WHEN 'handled' THEN leg.calls_handled ELSE leg.calls_put_on_hold END, 0)
            AS avg_hold_time_s,
        leg.longest_hold_s,
        leg.total_wrap_up_time_s,
        (leg.total_talk_time_s + leg.total_hold_time_s + leg.total_wrap_up_time_s)
            / nullif(leg.calls_handled, 0) AS avg_handle_time_s,
        leg.avg_call_duration_s,
        leg.transfers_out,
        leg.transfers_out / nullif(leg.calls_handled, 0) AS transfer_rate,
        coalesce(fcr.fcr_eligible, 0) AS fcr_eligible,
        coalesce(fcr.fcr_resolved, 0) AS fcr_resolved,
        coalesce(fcr.fcr_pending, 0) AS fcr_pending,
        fcr.fcr_resolved / nullif(fcr.fcr_eligible - fcr.fcr_pending, 0) AS fcr_rate,
        coalesce(csat.csat_responses, 0) AS csat_responses,
        csat.csat_avg,
        100.0 * csat.csat_top2 / nullif(csat.csat_responses, 0) AS csat_pct
    FROM leg_counts AS leg
    -- NULL group ids (no team, or no grouping) match each other: IS NOT DISTINCT FROM
    LEFT JOIN fcr_counts AS fcr
        ON fcr.instance = leg.instance AND fcr.group_id IS NOT DISTINCT FROM leg.group_id
       AND fcr.period = leg.period
    LEFT JOIN csat_counts AS csat
        ON csat.instance = leg.instance AND csat.group_id IS NOT DISTINCT FROM leg.group_id
       AND csat.period = leg.period
)
