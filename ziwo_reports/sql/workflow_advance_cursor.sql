-- Move a workflow's cursor to $up_to_run, never back (a late, stale advance changes nothing).
INSERT INTO workflow_cursors (workflow, run_id, updated_at)
VALUES ($workflow, $up_to_run, now())
ON CONFLICT (workflow) DO UPDATE
SET run_id = greatest(workflow_cursors.run_id, excluded.run_id),
    updated_at = CASE WHEN excluded.run_id > workflow_cursors.run_id THEN excluded.updated_at
                      ELSE workflow_cursors.updated_at END;
