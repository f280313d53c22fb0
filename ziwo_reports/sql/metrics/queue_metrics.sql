-- CTEs: queue visits and their metrics per group ($group_by: queue or none) and interval, as
-- `queue_metrics`. A visit is a contact's stay in one queue (all its inbound legs there), placed
-- in the window and interval of its first leg there.
--   calls_offered      visits
--   calls_answered     visits an agent answered
--   calls_abandoned    visits not answered whose last leg there ended with the caller hanging up
--                      (report_legs' caller_hung_up: not an agent's reject)
--   short_abandoned    abandoned visits that waited less than $short_abandon_s seconds
--   abandon_rate       calls_abandoned / calls_offered
--   service_level_rate visits answered within $service_level_s seconds
--                      / (calls_answered + calls_abandoned - short_abandoned)
--   asa_s              average wait of answered visits (queue entry -> answer, rings included)
--   avg_wait_s, longest_wait_s  over all visits (to the answer, else to the last leg's end)

queue_visits AS (
    SELECT
        instance, contact_id, queue_id,
        any_value(queue_name) AS queue_name,
        min(coalesce(queue_entered_at, started_at)) AS entered_at,
        -- the first leg's period: NULL when that leg is outside the window
        arg_min_null(period, started_at) AS period,
        min(CASE WHEN handled THEN answered_at END) AS answered_at,
        arg_max(caller_hung_up, started_at) AS caller_hung_up,
        max(ended_at) AS left_at,
        bool_or(passes) AS passes
    FROM report_legs
    WHERE direction = 'inbound' AND queue_id IS NOT NULL
    GROUP BY instance, contact_id, queue_id
),

visit_outcomes AS (
    SELECT
        *,
        CASE $group_by WHEN 'queue' THEN queue_id END AS group_id,
        CASE $group_by WHEN 'queue' THEN queue_name ELSE 'all' END AS group_name,
        answered_at IS NOT NULL AS answered,
        answered_at IS NULL AND caller_hung_up AS abandoned,
        epoch(coalesce(answered_at, left_at)) - epoch(entered_at) AS wait_s
    FROM queue_visits
    WHERE period IS NOT NULL AND passes
),

queue_metrics AS (
    SELECT
        instance, group_id, any_value(group_name) AS group_name, period,
        count(*) AS calls_offered,
        count(*) FILTER (WHERE answered) AS calls_answered,
        count(*) FILTER (WHERE abandoned) AS calls_abandoned,
        count(*) FILTER (WHERE abandoned AND wait_s < $short_abandon_s) AS short_abandoned,
        count(*) FILTER (WHERE abandoned) / nullif(count(*), 0) AS abandon_rate,
        count(*) FILTER (WHERE answered AND wait_s <= $service_level_s)
            / nullif(
                count(*) FILTER (WHERE answered) + count(*) FILTER (WHERE abandoned)
                - count(*) FILTER (WHERE abandoned AND wait_s < $short_abandon_s),
                0
            ) AS service_level_rate,
        avg(wait_s) FILTER (WHERE answered) AS asa_s,
        avg(wait_s) AS avg_wait_s,
        max(wait_s) AS longest_wait_s
    FROM visit_outcomes
    GROUP BY instance, group_id, period
)
