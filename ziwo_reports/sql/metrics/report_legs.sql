-- CTEs: the legs a report reads: every leg of the instance that started in [$legs_from,
-- $legs_until) (the window, widened where a report needs legs around it), each with:
--   attributed_at  the instant that places it in a window: its start, or its end ($attribute_by)
--   in_window      whether attributed_at falls in [$window_start, $window_end)
--   period         the number of the report interval it falls in (`report_intervals` holds
--                  their labels): looked up by the bucket of time it falls in, as
--                  `timewindows.period_lookup` lays them out, instead of converting every leg to
--                  local time
--   passes         whether it passes the report's filters (NULL filter: no filter)
--   handled        the agent connected on it (answered, inbound or outbound)
--   caller_hung_up nobody answered and the caller hung up first: result $caller_abandon_result,
--                  not ended by the agent nor with one of $reject_causes (connectors/ziwo/assumptions.py)
--   agent_missed   inbound, it rang the agent, nobody answered, and the caller did not hang up
--                  first: the ring timed out or the agent rejected it
--   ring_abandoned inbound, it rang the agent, nobody answered, and the caller hung up first
--   wrap_up_s      its after-call work: the leg's own, else (a handled leg, $wrap_up_fallback =
--                  'configured') the agent's configured wrap-up, else 0
--   wrap_up_estimated  its wrap_up_s is the agent's configured time, not one Ziwo recorded
--   is_*, contact_*  what its contact credits it with (migration 004, kept by the ingest), read as:
--     fcr_status  on the contact's fcr leg (the first inbound leg an agent answered), else NULL.
--                 NULL when not eligible (no national number: withheld or not a person's), else
--                 'resolved', 'unresolved' or 'pending'. By repeat calls: unresolved when the same
--                 national number calls back (an inbound contact starts that, by $fcr_repeat, is
--                 any call, reached a queue, or an agent answered) in (contact end, end +
--                 $fcr_window_s] and by $horizon (the data the warehouse holds); else pending when
--                 that span reaches past $horizon; else resolved. By disposition: resolved when a
--                 leg's disposition is one of $resolved_dispositions. 'both': resolved only when
--                 both say so.
--     csat_score  the contact's survey score, on its last (or, $csat_credit = 'first', its first)
--                 leg an agent handled.
-- Agent, team and queue names come from the reference tables (the queue's from the leg if unknown).

agent_names AS (
    SELECT
        a.instance, a.agent_id, a.team_id, a.wrap_up_time_s,
        nullif(trim(concat_ws(' ', a.first_name, a.last_name)), '') AS agent_name,
        t.name AS team_name
    FROM agents AS a
    LEFT JOIN teams AS t ON t.instance = a.instance AND t.team_id = a.team_id
),

window_legs AS (
    SELECT
        c.instance, c.call_id, c.contact_id, c.primary_call_id, c.direction, c.caller_number, c.caller_digits,
        c.agent_id, c.queue_id, coalesce(q.name, c.queue_name) AS queue_name, c.started_at, c.queue_entered_at,
        c.agent_ring_started_at, c.answered_at, c.ended_at, c.duration_s, c.queue_wait_time_s,
        c.ring_time_s, c.talk_time_s, c.hold_time_s, c.result, c.hangup_cause, c.disposition,
        c.survey_score, c.tags,
        c.is_fcr_leg, c.is_first_handled_leg, c.is_last_handled_leg, c.contact_caller_known, c.contact_ended_at,
        -- the next call back of the kind that counts as a repeat ($fcr_repeat)
        CASE $fcr_repeat
            WHEN 'any' THEN c.contact_next_repeat_start
            WHEN 'queue' THEN c.contact_next_queue_repeat_start
            ELSE c.contact_next_agent_repeat_start
        END AS contact_next_repeat_start,
        c.contact_survey_score, c.contact_dispositions,
        -- only a leg the agent connected on can have taken the agent's wrap-up time
        c.wrap_up_time_s IS NULL AND $wrap_up_fallback = 'configured' AND a.wrap_up_time_s IS NOT NULL
            AND c.agent_id IS NOT NULL AND c.answered_at IS NOT NULL AS wrap_up_estimated,
        coalesce(c.wrap_up_time_s, CASE WHEN wrap_up_estimated THEN a.wrap_up_time_s END, 0) AS wrap_up_s,
        a.team_id,
        a.agent_name,
        a.team_name,
        CASE WHEN $attribute_by = 'end' THEN coalesce(c.ended_at, c.started_at) ELSE c.started_at END
            AS attributed_at,
        c.agent_id IS NOT NULL AND c.answered_at IS NOT NULL AS handled,
        c.answered_at IS NULL AND c.result IS NOT DISTINCT FROM $caller_abandon_result
            AND c.hangup_by IS DISTINCT FROM 'agent'
            AND NOT coalesce(list_contains($reject_causes::VARCHAR[], c.hangup_cause), false) AS caller_hung_up,
        c.direction = 'inbound' AND c.agent_id IS NOT NULL AND c.agent_ring_started_at IS NOT NULL
            AND c.answered_at IS NULL AS rang_unanswered,
        rang_unanswered AND caller_hung_up AS ring_abandoned,
        rang_unanswered AND NOT caller_hung_up AS agent_missed,
        list_contains($transfer_causes::VARCHAR[], c.hangup_cause) AS transferred
    FROM calls AS c
    LEFT JOIN agent_names AS a ON a.instance = c.instance AND a.agent_id = c.agent_id
    LEFT JOIN queues AS q ON q.instance = c.instance AND q.queue_id = c.queue_id
    WHERE ($instance::VARCHAR IS NULL OR c.instance = $instance::VARCHAR)
      AND c.started_at >= $legs_from::TIMESTAMPTZ
      AND c.started_at < $legs_until::TIMESTAMPTZ
      -- only these legs (an after_call workflow's batch); NULL: every leg
      AND ($only_call_ids::VARCHAR[] IS NULL OR c.call_id IN (SELECT unnest($only_call_ids::VARCHAR[])))
),

filtered_legs AS (
    SELECT
        *,
        attributed_at >= $window_start::TIMESTAMPTZ AND attributed_at < $window_end::TIMESTAMPTZ AS in_window,
        ($agent_ids::BIGINT[] IS NULL OR list_contains($agent_ids::BIGINT[], agent_id))
        AND ($team_ids::BIGINT[] IS NULL OR list_contains($team_ids::BIGINT[], team_id))
        AND ($queue_ids::BIGINT[] IS NULL OR list_contains($queue_ids::BIGINT[], queue_id))
        AND ($directions::VARCHAR[] IS NULL OR list_contains($directions::VARCHAR[], direction))
        AND ($tags::VARCHAR[] IS NULL OR list_has_any($tags::VARCHAR[], tags))
        AND ($min_duration_s::INTEGER IS NULL OR duration_s >= $min_duration_s::INTEGER)
        AND (
            $outcomes::VARCHAR[] IS NULL
            OR (list_contains($outcomes::VARCHAR[], 'answered') AND handled)
            OR (list_contains($outcomes::VARCHAR[], 'missed') AND agent_missed)
            OR (list_contains($outcomes::VARCHAR[], 'abandoned') AND caller_hung_up)
            OR (list_contains($outcomes::VARCHAR[], 'transferred') AND transferred)
        ) AS passes
    FROM window_legs
),

report_legs AS (
    SELECT
        *,
        CASE
            WHEN is_fcr_leg IS NOT TRUE OR contact_caller_known IS NOT TRUE THEN NULL
            WHEN $fcr_source = 'disposition' THEN
                CASE WHEN list_has_any(string_split(contact_dispositions, chr(31)), $resolved_dispositions::VARCHAR[])
                    THEN 'resolved' ELSE 'unresolved' END
            WHEN $fcr_source = 'both'
                AND NOT list_has_any(string_split(contact_dispositions, chr(31)), $resolved_dispositions::VARCHAR[])
                THEN 'unresolved'
            WHEN contact_next_repeat_start
                <= least(contact_ended_at + to_seconds($fcr_window_s::BIGINT), $horizon::TIMESTAMPTZ)
                THEN 'unresolved'
            WHEN contact_ended_at + to_seconds($fcr_window_s::BIGINT) > $horizon::TIMESTAMPTZ THEN 'pending'
            ELSE 'resolved'
        END AS fcr_status,
        CASE WHEN CASE $csat_credit WHEN 'first' THEN is_first_handled_leg ELSE is_last_handled_leg END
            THEN contact_survey_score END AS csat_score,
        CASE WHEN in_window THEN
            ($bucket_periods::INTEGER[])[bucket + 1]
            + (epoch_us(attributed_at) >= ($bucket_splits::BIGINT[])[bucket + 1])::INTEGER
        END AS period
    FROM (
        SELECT *, (epoch_us(attributed_at) - $period_origin_us::BIGINT) // $bucket_us::BIGINT AS bucket
        FROM filtered_legs
    )
)
