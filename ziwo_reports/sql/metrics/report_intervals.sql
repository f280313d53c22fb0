-- CTE: the report's periods, numbered from 0 in order, with their labels (ISO 8601 in the report
-- zone), from the lists Python builds by the rules of `timewindows.intervals`.

report_intervals AS (
    SELECT
        unnest(range(len($period_starts::VARCHAR[]))) AS period,
        unnest($period_starts::VARCHAR[]) AS period_start,
        unnest($period_ends::VARCHAR[]) AS period_end
)
