-- Full refresh: remember the callIDs Ziwo listed in this batch (`listed_now`).
INSERT INTO listed_calls SELECT call_id FROM listed_now;
