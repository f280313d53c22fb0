-- Full refresh, at the start: an empty list of the callIDs Ziwo lists in this run.
CREATE OR REPLACE TEMP TABLE listed_calls (call_id VARCHAR);
