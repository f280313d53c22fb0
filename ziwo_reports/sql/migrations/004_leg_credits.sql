-- What each leg is credited with by its contact, kept by the ingest with the contacts
-- (sql/refresh_leg_credits.sql), so a report reads first-call resolution and CSAT from the legs
-- alone instead of joining every leg to its contact. The contact_* columns are the contact's
-- values, on each of its legs; the is_* columns say which of its legs this one is.
ALTER TABLE calls ADD COLUMN is_fcr_leg BOOLEAN;                 -- contacts.fcr_leg
ALTER TABLE calls ADD COLUMN is_first_handled_leg BOOLEAN;       -- contacts.first_handled_leg
ALTER TABLE calls ADD COLUMN is_last_handled_leg BOOLEAN;        -- contacts.last_handled_leg
ALTER TABLE calls ADD COLUMN contact_caller_known BOOLEAN;       -- contacts.national_number IS NOT NULL
ALTER TABLE calls ADD COLUMN contact_ended_at TIMESTAMPTZ;
ALTER TABLE calls ADD COLUMN contact_next_repeat_start TIMESTAMPTZ;
ALTER TABLE calls ADD COLUMN contact_survey_score SMALLINT;
-- contacts.dispositions joined by chr(31): a list column would move the row on each update,
-- and the legs are kept in time order for the reports' scans.
ALTER TABLE calls ADD COLUMN contact_dispositions VARCHAR;

-- The next ingest builds the contacts again, and the credits with them (contacts.ensure_contacts).
DELETE FROM contacts;
