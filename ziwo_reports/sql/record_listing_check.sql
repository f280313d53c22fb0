-- How a day's listing was verified, in the transaction that loads the day's last records.
INSERT INTO listing_checks
VALUES ($run_id, $instance, $day, $records_read, $server_total, $passes, $verified, $problem, now());
