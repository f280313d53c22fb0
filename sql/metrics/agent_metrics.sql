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
        legs.*,
        CASE $group_by WHEN 'agent' THEN agent_id WHEN 'team' THEN team_id WHEN 'queue' THEN queue_id END AS group_id,
        CASE $group_by WHEN 'agent' THEN agent_name WHEN 'team' THEN team_name WHEN 'queue' THEN queue_name END
            AS group_name,
        -- the contact's first-call resolution and CSAT count where they are credited
        CASE WHEN legs.call_id = outcome.fcr_leg THEN outcome.fcr_status END AS fcr_status,
        CASE WHEN legs.call_id = outcome.csat_leg THEN outcome.contact_score END AS csat_score
    FROM report_legs AS legs
    LEFT JOIN contact_outcomes AS outcome
        ON outcome.instance = legs.instance AND outcome.contact_id = legs.contact_id
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
        count(*) FILTER (WHERE handled AND transferred) AS transfers_out,
        count(fcr_status) AS fcr_eligible,
        count(*) FILTER (WHERE fcr_status = 'resolved') AS fcr_resolved,
        count(*) FILTER (WHERE fcr_status = 'pending') AS fcr_pending,
        count(csat_score) AS csat_responses,
        avg(csat_score) AS csat_avg,
        count(*) FILTER (WHERE csat_score >= 4) AS csat_top2
    FROM grouped_legs
    GROUP BY instance, group_id, period
),

agent_metrics AS (
    SELECT
        instance, group_id,
        coalesce(group_name, CASE $group_by
            WHEN 'agent' THEN 'agent ' || group_id
            WHEN 'team' THEN '(no team)'
            WHEN 'queue' THEN '(no queue)'
            ELSE 'all'
        END) AS group_name,
        period,
        calls_offered, calls_answered, calls_missed, outbound_calls, calls_handled,
        total_talk_time_s,
        total_talk_time_s / nullif(calls_handled, 0) AS avg_talk_time_s,
        total_hold_time_s,
        calls_put_on_hold,
        total_hold_time_s
            / nullif(CASE $hold_average WHEN 'handled' THEN calls_handled ELSE calls_put_on_hold END, 0)
            AS avg_hold_time_s,
        longest_hold_s,
        total_wrap_up_time_s,
        (total_talk_time_s + total_hold_time_s + total_wrap_up_time_s) / nullif(calls_handled, 0) AS avg_handle_time_s,
        avg_call_duration_s,
        transfers_out,
        transfers_out / nullif(calls_handled, 0) AS transfer_rate,
        fcr_eligible,
        fcr_resolved,
        fcr_pending,
        fcr_resolved / nullif(fcr_eligible - fcr_pending, 0) AS fcr_rate,
        csat_responses,
        csat_avg,
        100.0 * csat_top2 / nullif(csat_responses, 0) AS csat_pct
    FROM leg_counts
)
