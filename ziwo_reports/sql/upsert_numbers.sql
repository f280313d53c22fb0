-- Refresh numbers from the staged listing (`staged_numbers`); see upsert_agents.sql.
INSERT INTO numbers BY NAME
SELECT *, now() AS first_seen_at, now() AS changed_at, NULL AS unlisted_at
FROM staged_numbers
ON CONFLICT (instance, number_id) DO UPDATE SET
    did = excluded.did,
    link_type = excluded.link_type,
    link_data = excluded.link_data,
    status = excluded.status,
    deleted_at = excluded.deleted_at,
    raw = excluded.raw,
    record_hash = excluded.record_hash,
    changed_at = excluded.changed_at,
    unlisted_at = NULL
WHERE numbers.record_hash <> excluded.record_hash OR numbers.unlisted_at IS NOT NULL;

UPDATE numbers SET unlisted_at = now()
WHERE instance = $instance
  AND unlisted_at IS NULL
  AND number_id NOT IN (SELECT number_id FROM staged_numbers);
