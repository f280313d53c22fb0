-- CTEs: the agent metrics of the report's legs, per group ($group_by: agent, team, queue or
-- none) and interval, as `agent_metrics`. Only legs with an agent count: every metric here is
-- about what agents did. Formulas (docs/metrics.md words them the same way):
--   calls_offered      inbound legs that rang the agent (agent_ring_started_at set)
--   calls_answered     inbound legs the agent answered
--   calls_missed       inbound legs that rang the agent, unanswered, not left by the caller
--                      (the ring timed out or the agent rejected it: report_legs' agent_missed)
--   abandoned_while_ringing  inbound legs that rang the agent, unanswered, the caller hanging up
--   calls_unanswered   calls_missed + abandoned_while_ringing
--   outbound_calls     outbound legs placed by the agent
--   calls_handled      legs the agent connected on (answered), inbound or outbound
--   avg_talk_time_s    total talk of handled legs / calls_handled
--   avg_hold_time_s    total hold / calls_put_on_hold (or / calls_handled, $hold_average = 'handled')
--   avg_wrap_up_time_s total wrap-up of handled legs / calls_handled
--   wrap_up_estimated_legs  handled legs whose wrap-up is the agent's configured time (report_legs)
--   avg_handle_time_s  (talk + hold + wrap-up of handled legs) / calls_handled
--   avg_call_duration_s  average of answered_at -> ended_at over handled legs
--   transfer_rate      transfers_out / calls_handled
-- Every ratio is a fraction, 0..1 (`_rate`); files and the terminal show it as a percentage.
--   fcr_rate           fcr_resolved / (fcr_eligible - fcr_pending)
--   csat_top2_rate     responses scoring 4 or 5 / csat_responses
-- A ratio whose denominator is zero is NULL.
-- First-call resolution and CSAT: report_legs' fcr_status and csat_score.

grouped_legs AS (
    SELECT
        legs.*,
        CASE $group_by WHEN 'agent' THEN agent_id WHEN 'team' THEN team_id WHEN 'queue' THEN queue_id END AS group_id,
        CASE $group_by WHEN 'agent' THEN agent_name WHEN 'team' THEN team_name WHEN 'queue' THEN queue_name END
            AS group_name
    FROM report_legs AS legs
    WHERE in_window AND passes AND agent_id IS NOT NULL
),

-- count(CASE WHEN ...) and sum(CASE WHEN ...) rather than FILTER (WHERE ...): the same values,
-- and DuckDB aggregates them about twice as fast (no selection per aggregate).
leg_counts AS (
    SELECT
        instance, group_id, any_value(group_name) AS group_name, period,
        count(CASE WHEN direction = 'inbound' AND agent_ring_started_at IS NOT NULL THEN 1 END) AS calls_offered,
        count(CASE WHEN direction = 'inbound' AND handled THEN 1 END) AS calls_answered,
        count(CASE WHEN agent_missed THEN 1 END) AS calls_missed,
        count(CASE WHEN ring_abandoned THEN 1 END) AS abandoned_while_ringing,
        count(CASE WHEN direction = 'outbound' THEN 1 END) AS outbound_calls,
        count(CASE WHEN handled THEN 1 END) AS calls_handled,
        coalesce(sum(CASE WHEN handled THEN talk_time_s END), 0)::BIGINT AS total_talk_time_s,
        coalesce(sum(CASE WHEN handled THEN hold_time_s END), 0)::BIGINT AS total_hold_time_s,
        count(CASE WHEN handled AND hold_time_s > 0 THEN 1 END) AS calls_put_on_hold,
        max(CASE WHEN handled THEN hold_time_s END) AS longest_hold_s,
        coalesce(sum(CASE WHEN handled THEN wrap_up_s END), 0)::BIGINT AS total_wrap_up_time_s,
        count(CASE WHEN handled AND wrap_up_estimated THEN 1 END) AS wrap_up_estimated_legs,
        avg(CASE WHEN handled THEN epoch(ended_at) - epoch(answered_at) END) AS avg_call_duration_s,
        count(CASE WHEN handled AND transferred THEN 1 END) AS transfers_out,
        count(fcr_status) AS fcr_eligible,
        count(CASE WHEN fcr_status = 'resolved' THEN 1 END) AS fcr_resolved,
        count(CASE WHEN fcr_status = 'pending' THEN 1 END) AS fcr_pending,
        count(csat_score) AS csat_responses,
        avg(csat_score) AS csat_avg,
        count(CASE WHEN csat_score >= 4 THEN 1 END) AS csat_top2
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
        calls_offered, calls_answered, calls_missed, abandoned_while_ringing,
        calls_missed + abandoned_while_ringing AS calls_unanswered,
        outbound_calls, calls_handled,
        total_talk_time_s,
        total_talk_time_s / nullif(calls_handled, 0) AS avg_talk_time_s,
        total_hold_time_s,
        calls_put_on_hold,
        total_hold_time_s
            / nullif(CASE $hold_average WHEN 'handled' THEN calls_handled ELSE calls_put_on_hold END, 0)
            AS avg_hold_time_s,
        longest_hold_s,
        total_wrap_up_time_s,
        total_wrap_up_time_s / nullif(calls_handled, 0) AS avg_wrap_up_time_s,
        wrap_up_estimated_legs,
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
        csat_top2 / nullif(csat_responses, 0) AS csat_top2_rate
    FROM leg_counts
)
