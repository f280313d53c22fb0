-- The starts of the legs of `changed_contacts`: from the first contact's start to two days after the
-- last one's (a contact's legs are minutes apart), for sql/refresh_leg_credits.sql.
SELECT min(started_at), max(started_at) + INTERVAL 2 DAY FROM changed_contacts;
