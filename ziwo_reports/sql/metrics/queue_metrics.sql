-- CTEs: queue visits and their metrics per group ($group_by: queue or none) and interval, as
-- `queue_metrics`. Every column counts visits, placed in the window and interval of the visit's
-- first leg, unless its name says legs. A visit is a contact's stay in one queue: a run of its
-- inbound queue legs, in order of start, in the same queue (a contact that goes queue A -> B -> A
-- makes two visits to A). What the agents did in a visit is summed over its legs that pass the
-- filters.
--   calls_offered      visits
--   calls_answered     visits an agent answered
--   calls_abandoned    visits not answered whose last leg there ended with the caller hanging up
--                      (report_legs' caller_hung_up: not an agent's reject)
--   abandoned_while_ringing  abandoned visits whose caller hung up while an agent's phone rang
--   short_abandoned    abandoned visits that waited less than $short_abandon_s seconds
--   abandon_rate       calls_abandoned / calls_offered
--   service_level_rate visits answered within $service_level_s seconds
--                      / (calls_answered + calls_abandoned - short_abandoned)
--   asa_s              average wait of answered visits (queue entry -> answer, rings included)
--   avg_wait_s, longest_wait_s  over all visits (to the answer, else to the last leg's end)
--   missed_legs        rings of an agent in the visits that the agent missed (timed out, rejected)
--   total_*_time_s     talk, hold, wrap-up of the visits' handled legs; avg_*: / calls_answered
--   wrap_up_estimated_legs  the visits' handled legs whose wrap-up is the agent's configured time
--   calls_put_on_hold  answered visits with hold; avg_hold_time_s: total hold / those
--                      (or / calls_answered, $hold_average = 'handled')
--   longest_hold_s     the longest hold of a handled leg in the visits
--   avg_handle_time_s  (talk + hold + wrap-up) / calls_answered
--   transfers_out      answered visits an agent transferred onward; transfer_rate / calls_answered
--   fcr_*, csat_*      the contacts credited to the visits' legs (report_legs' fcr_status, csat_score)

queue_legs AS (
    SELECT
        *,
        -- the visit's number within its contact: a new one wherever the queue changes
        sum(CASE WHEN queue_id IS DISTINCT FROM previous_queue_id THEN 1 ELSE 0 END)
            OVER (PARTITION BY instance, contact_id ORDER BY started_at, call_id) AS visit
    FROM (
        SELECT
            *,
            lag(queue_id) OVER (PARTITION BY instance, contact_id ORDER BY started_at, call_id) AS previous_queue_id
        FROM report_legs
        WHERE direction = 'inbound' AND queue_id IS NOT NULL
    )
),

queue_visits AS (
    SELECT
        instance, contact_id, visit, any_value(queue_id) AS queue_id,
        any_value(queue_name) AS queue_name,
        min(coalesce(queue_entered_at, started_at)) AS entered_at,
        -- the first leg's period: NULL when that leg is outside the window
        arg_min_null(period, started_at) AS period,
        min(CASE WHEN handled THEN answered_at END) AS answered_at,
        arg_max(caller_hung_up, started_at) AS caller_hung_up,
        arg_max(ring_abandoned, started_at) AS ring_abandoned,
        max(ended_at) AS left_at,
        bool_or(passes) AS passes,
        count(CASE WHEN passes AND agent_missed THEN 1 END) AS missed_legs,
        sum(CASE WHEN passes AND handled THEN talk_time_s END) AS talk_s,
        sum(CASE WHEN passes AND handled THEN hold_time_s END) AS hold_s,
        max(CASE WHEN passes AND handled THEN hold_time_s END) AS longest_hold_s,
        sum(CASE WHEN passes AND handled THEN wrap_up_s END) AS wrap_up_s,
        count(CASE WHEN passes AND handled AND wrap_up_estimated THEN 1 END) AS wrap_up_estimated_legs,
        bool_or(passes AND handled AND transferred) AS transferred,
        count(CASE WHEN passes THEN fcr_status END) AS fcr_eligible,
        count(CASE WHEN passes AND fcr_status = 'resolved' THEN 1 END) AS fcr_resolved,
        count(CASE WHEN passes AND fcr_status = 'pending' THEN 1 END) AS fcr_pending,
        count(CASE WHEN passes THEN csat_score END) AS csat_responses,
        sum(CASE WHEN passes THEN csat_score END) AS csat_points,
        count(CASE WHEN passes AND csat_score >= 4 THEN 1 END) AS csat_top2
    FROM queue_legs
    GROUP BY instance, contact_id, visit
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

visit_counts AS (
    SELECT
        instance, group_id, any_value(group_name) AS group_name, period,
        count(*) AS calls_offered,
        count(CASE WHEN answered THEN 1 END) AS calls_answered,
        count(CASE WHEN abandoned THEN 1 END) AS calls_abandoned,
        count(CASE WHEN abandoned AND ring_abandoned THEN 1 END) AS abandoned_while_ringing,
        count(CASE WHEN abandoned AND wait_s < $short_abandon_s THEN 1 END) AS short_abandoned,
        count(CASE WHEN answered AND wait_s <= $service_level_s THEN 1 END) AS answered_in_sl,
        avg(CASE WHEN answered THEN wait_s END) AS asa_s,
        avg(wait_s) AS avg_wait_s,
        max(wait_s) AS longest_wait_s,
        sum(missed_legs) AS missed_legs,
        coalesce(sum(talk_s), 0)::BIGINT AS total_talk_time_s,
        coalesce(sum(hold_s), 0)::BIGINT AS total_hold_time_s,
        count(CASE WHEN answered AND hold_s > 0 THEN 1 END) AS calls_put_on_hold,
        max(longest_hold_s) AS longest_hold_s,
        coalesce(sum(wrap_up_s), 0)::BIGINT AS total_wrap_up_time_s,
        sum(wrap_up_estimated_legs) AS wrap_up_estimated_legs,
        count(CASE WHEN answered AND transferred THEN 1 END) AS transfers_out,
        sum(fcr_eligible) AS fcr_eligible,
        sum(fcr_resolved) AS fcr_resolved,
        sum(fcr_pending) AS fcr_pending,
        sum(csat_responses) AS csat_responses,
        sum(csat_points) AS csat_points,
        sum(csat_top2) AS csat_top2
    FROM visit_outcomes
    GROUP BY instance, group_id, period
),

queue_metrics AS (
    SELECT
        instance, group_id, group_name, period,
        calls_offered, calls_answered, calls_abandoned, abandoned_while_ringing, short_abandoned,
        calls_abandoned / nullif(calls_offered, 0) AS abandon_rate,
        answered_in_sl / nullif(calls_answered + calls_abandoned - short_abandoned, 0) AS service_level_rate,
        asa_s, avg_wait_s, longest_wait_s,
        missed_legs::BIGINT AS missed_legs,
        total_talk_time_s,
        total_talk_time_s / nullif(calls_answered, 0) AS avg_talk_time_s,
        total_hold_time_s,
        calls_put_on_hold,
        total_hold_time_s
            / nullif(CASE $hold_average WHEN 'handled' THEN calls_answered ELSE calls_put_on_hold END, 0)
            AS avg_hold_time_s,
        longest_hold_s,
        total_wrap_up_time_s,
        total_wrap_up_time_s / nullif(calls_answered, 0) AS avg_wrap_up_time_s,
        wrap_up_estimated_legs::BIGINT AS wrap_up_estimated_legs,
        (total_talk_time_s + total_hold_time_s + total_wrap_up_time_s) / nullif(calls_answered, 0)
            AS avg_handle_time_s,
        transfers_out,
        transfers_out / nullif(calls_answered, 0) AS transfer_rate,
        fcr_eligible::BIGINT AS fcr_eligible,
        fcr_resolved::BIGINT AS fcr_resolved,
        fcr_pending::BIGINT AS fcr_pending,
        fcr_resolved / nullif(fcr_eligible - fcr_pending, 0) AS fcr_rate,
        csat_responses::BIGINT AS csat_responses,
        csat_points / nullif(csat_responses, 0) AS csat_avg,
        csat_top2 / nullif(csat_responses, 0) AS csat_top2_rate
    FROM visit_counts
)
