-- The starts of the touched legs, widened to hold their whole contacts (a contact's legs are
-- minutes apart; two days before and one after spare plenty): sql/refresh_contacts.sql reads
-- calls and contacts only in this span.
SELECT min(started_at) - INTERVAL 2 DAY, max(started_at) + INTERVAL 1 DAY FROM touched_contacts;
