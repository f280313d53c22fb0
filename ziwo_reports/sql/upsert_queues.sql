-- Refresh queues from the staged listing (`staged_queues`); see upsert_agents.sql.
INSERT INTO queues BY NAME
SELECT *, now() AS first_seen_at, now() AS changed_at, NULL AS unlisted_at
FROM staged_queues
ON CONFLICT (instance, queue_id) DO UPDATE SET
    name = excluded.name,
    survey_required = excluded.survey_required,
    status = excluded.status,
    deleted_at = excluded.deleted_at,
    raw = excluded.raw,
    record_hash = excluded.record_hash,
    changed_at = excluded.changed_at,
    unlisted_at = NULL
WHERE queues.record_hash <> excluded.record_hash OR queues.unlisted_at IS NOT NULL;

UPDATE queues SET unlisted_at = now()
WHERE instance = $instance
  AND unlisted_at IS NULL
  AND queue_id NOT IN (SELECT queue_id FROM staged_queues);
