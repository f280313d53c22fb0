-- The queue-performance report: queue visit metrics, then the agent metrics of the same queue
-- and interval (their calls_offered/answered, counted per leg, are left out: the queue's own
-- count visits).
SELECT
    coalesce(q.instance, a.instance) AS instance,
    coalesce(q.group_id, a.group_id) AS group_id,
    coalesce(q.group_name, a.group_name) AS group_name,
    i.period_start,
    i.period_end,
    $timezone AS timezone,
    coalesce(q.calls_offered, 0) AS calls_offered,
    coalesce(q.calls_answered, 0) AS calls_answered,
    coalesce(q.calls_abandoned, 0) AS calls_abandoned,
    coalesce(q.short_abandoned, 0) AS short_abandoned,
    q.abandon_rate, q.service_level_rate, q.asa_s, q.avg_wait_s, q.longest_wait_s,
    coalesce(a.calls_missed, 0) AS calls_missed,
    coalesce(a.abandoned_while_ringing, 0) AS abandoned_while_ringing,
    coalesce(a.calls_handled, 0) AS calls_handled,
    coalesce(a.total_talk_time_s, 0) AS total_talk_time_s,
    a.avg_talk_time_s,
    coalesce(a.total_hold_time_s, 0) AS total_hold_time_s,
    a.avg_hold_time_s,
    coalesce(a.total_wrap_up_time_s, 0) AS total_wrap_up_time_s,
    coalesce(a.wrap_up_estimated_legs, 0) AS wrap_up_estimated_legs,
    a.avg_handle_time_s,
    coalesce(a.transfers_out, 0) AS transfers_out,
    a.transfer_rate,
    coalesce(a.fcr_eligible, 0) AS fcr_eligible,
    coalesce(a.fcr_resolved, 0) AS fcr_resolved,
    coalesce(a.fcr_pending, 0) AS fcr_pending,
    a.fcr_rate,
    coalesce(a.csat_responses, 0) AS csat_responses,
    a.csat_avg, a.csat_top2_rate
FROM queue_metrics AS q
FULL OUTER JOIN agent_metrics AS a
    ON a.instance = q.instance AND a.group_id IS NOT DISTINCT FROM q.group_id
   AND a.period = q.period
JOIN report_intervals AS i ON i.period = coalesce(q.period, a.period)
ORDER BY 1, i.period, 3, 2
