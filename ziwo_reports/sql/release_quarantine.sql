-- Legs that arrived valid (`valid_calls`) leave the quarantine.
DELETE FROM quarantine
WHERE instance = $instance
  AND stream = 'calls'
  AND record_key IN (SELECT call_id FROM valid_calls);
