-- Add a committed batch's counts to its run (in the batch's own transaction).
UPDATE ingest_runs
SET days_done = days_done + $days_done,
    pages = pages + $pages,
    records = records + $records,
    new = new + $new,
    updated = updated + $updated,
    unchanged = unchanged + $unchanged,
    removed = removed + $removed,
    quarantined = quarantined + $quarantined,
    retries = retries + $retries,
    relogins = relogins + $relogins
WHERE run_id = $run_id;
