-- The call-details export: one row per leg in the window that passes the filters.
SELECT
    instance, call_id, contact_id, primary_call_id, direction, caller_number,
    agent_id, agent_name, team_id, team_name, queue_id, queue_name,
    started_at, queue_entered_at, agent_ring_started_at, answered_at, ended_at,
    duration_s, queue_wait_time_s, ring_time_s, talk_time_s, hold_time_s, wrap_up_s AS wrap_up_time_s,
    wrap_up_estimated,
    result, hangup_cause, transferred, disposition, survey_score, tags,
    i.period_start, i.period_end, $timezone AS timezone
FROM report_legs
JOIN report_intervals AS i USING (period)
WHERE in_window AND passes
ORDER BY started_at, call_id
