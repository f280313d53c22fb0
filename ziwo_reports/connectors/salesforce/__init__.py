"""Salesforce as a delivery target (type `salesforce`): metrics rows upserted by external id
(sObject Collections, Bulk API 2.0 above a threshold) and follow-ups on calls (a Task or Case on
the Contact or Lead matched by the caller's number)."""
