-- Put the staged bad records (`staged_quarantine`) in quarantine. A record already there with
-- the same content and reason is left alone, so reading it again changes nothing.

CREATE OR REPLACE TEMP TABLE quarantine_changes AS
SELECT staged.*
FROM staged_quarantine AS staged
LEFT JOIN quarantine AS held
    ON held.instance = staged.instance
   AND held.stream = staged.stream
   AND held.record_key = staged.record_key
WHERE held.record_key IS NULL
   OR held.record_hash <> staged.record_hash
   OR held.reason <> staged.reason;

DELETE FROM quarantine
USING quarantine_changes AS changed
WHERE quarantine.instance = changed.instance
  AND quarantine.stream = changed.stream
  AND quarantine.record_key = changed.record_key;

INSERT INTO quarantine BY NAME
SELECT *, $run_id AS run_id, now() AS quarantined_at
FROM quarantine_changes;
