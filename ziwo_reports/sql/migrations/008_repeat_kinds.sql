-- What counts as a repeat call for first-call resolution is a report setting (fcr_repeat: any
-- call back, one that reached a queue, one an agent answered): the contacts keep the next call
-- back of each kind, and copy them onto their legs as they copy next_repeat_start (004).
ALTER TABLE contacts ADD COLUMN queue_repeat_start TIMESTAMPTZ;       -- repeat_start when it reached a queue
ALTER TABLE contacts ADD COLUMN agent_repeat_start TIMESTAMPTZ;       -- repeat_start when an agent answered it
ALTER TABLE contacts ADD COLUMN next_queue_repeat_start TIMESTAMPTZ;  -- the next queue_repeat_start after ended_at
ALTER TABLE contacts ADD COLUMN next_agent_repeat_start TIMESTAMPTZ;  -- the next agent_repeat_start after ended_at
ALTER TABLE calls ADD COLUMN contact_next_queue_repeat_start TIMESTAMPTZ;
ALTER TABLE calls ADD COLUMN contact_next_agent_repeat_start TIMESTAMPTZ;

-- The next ingest builds the contacts again, with the new columns (contacts.ensure_contacts).
DELETE FROM contacts;
