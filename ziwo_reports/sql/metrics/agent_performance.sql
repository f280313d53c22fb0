-- The agent-performance report (after the CTEs of report_legs, contacts and agent_metrics).
SELECT
    m.instance, m.group_id, m.group_name, i.period_start, i.period_end, $timezone AS timezone,
    m.* EXCLUDE (instance, group_id, group_name, period)
FROM agent_metrics AS m
JOIN report_intervals AS i USING (period)
ORDER BY m.instance, m.period, m.group_name, m.group_id
