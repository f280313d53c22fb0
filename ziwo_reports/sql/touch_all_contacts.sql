-- Every contact of the instance, for sql/refresh_contacts.sql to build again (the first ingest
-- after an upgrade, or a new country code).
CREATE OR REPLACE TEMP TABLE touched_contacts AS
SELECT instance, contact_id, started_at FROM calls WHERE instance = $instance
UNION ALL
SELECT instance, contact_id, started_at FROM contacts WHERE instance = $instance;
