"""HubSpot as a delivery target (type `hubspot`): metrics upserted into a CRM object by a unique
property, and follow-ups of calls (a call engagement or a task on the caller's contact)."""
