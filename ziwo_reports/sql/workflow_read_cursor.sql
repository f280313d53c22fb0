-- The ingest run id a workflow has seen up to; no row: a workflow that never ran.
SELECT run_id FROM workflow_cursors WHERE workflow = $workflow;
