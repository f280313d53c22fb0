-- The queue-performance report: the queue visit metrics of `queue_metrics`, every column counting
-- visits placed by their first leg, except the two named by their legs.
SELECT
    q.instance, q.group_id, q.group_name, i.period_start, i.period_end, $timezone AS timezone,
    q.* EXCLUDE (instance, group_id, group_name, period)
FROM queue_metrics AS q
JOIN report_intervals AS i USING (period)
ORDER BY q.instance, q.period, q.group_name, q.group_id
