-- Refresh agents from the staged listing (`staged_agents`). Changed agents are updated, agents
-- Ziwo no longer lists are marked unlisted; none is deleted, so their calls keep their names.
INSERT INTO agents BY NAME
SELECT *, now() AS first_seen_at, now() AS changed_at, NULL AS unlisted_at
FROM staged_agents
ON CONFLICT (instance, agent_id) DO UPDATE SET
    first_name = excluded.first_name,
    last_name = excluded.last_name,
    username = excluded.username,
    cc_login = excluded.cc_login,
    team_id = excluded.team_id,
    team_name = excluded.team_name,
    wrap_up_time_s = excluded.wrap_up_time_s,
    status = excluded.status,
    created_at = excluded.created_at,
    deleted_at = excluded.deleted_at,
    raw = excluded.raw,
    record_hash = excluded.record_hash,
    changed_at = excluded.changed_at,
    unlisted_at = NULL
WHERE agents.record_hash <> excluded.record_hash OR agents.unlisted_at IS NOT NULL;

UPDATE agents SET unlisted_at = now()
WHERE instance = $instance
  AND unlisted_at IS NULL
  AND agent_id NOT IN (SELECT agent_id FROM staged_agents);

-- Teams, as the agents' records name them.
INSERT INTO teams BY NAME
SELECT DISTINCT instance, team_id, team_name AS name, now() AS first_seen_at, now() AS changed_at
FROM staged_agents
WHERE team_id IS NOT NULL
ON CONFLICT (instance, team_id) DO UPDATE SET name = excluded.name, changed_at = excluded.changed_at
WHERE teams.name IS DISTINCT FROM excluded.name;
