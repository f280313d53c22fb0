-- The agent-performance report (after the CTEs of report_legs, contacts and agent_metrics).
SELECT instance, group_id, group_name, period_start, period_end, $timezone AS timezone,
       * EXCLUDE (instance, group_id, group_name, period_start, period_end)
FROM agent_metrics
ORDER BY instance, period_start, group_name, group_id
