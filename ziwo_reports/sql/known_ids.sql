-- Agents and queues the instance has (or had): what call legs may refer to.
SELECT 'agent' AS kind, agent_id AS id FROM agents WHERE instance = $instance
UNION ALL
SELECT 'queue', queue_id FROM queues WHERE instance = $instance;
