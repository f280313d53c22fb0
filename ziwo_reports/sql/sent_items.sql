-- Items of one target already sent, among $chunk_keys: the newest sent row of each key. Returns
-- (chunk_key, delivery_id, target_ref, row_keys). A delivery whose items cannot be taken back
-- (an e-mail) sends none of these again unless forced.
WITH sent AS (
    SELECT
        chunk_key,
        delivery_id,
        target_ref,
        row_keys,
        row_number() OVER (PARTITION BY chunk_key ORDER BY updated_at DESC, delivery_id DESC) AS newest
    FROM deliveries
    WHERE target_type = $target_type
      AND target_name = $target_name
      AND list_contains($chunk_keys, chunk_key)
      AND status = 'sent'
)
SELECT chunk_key, delivery_id, target_ref, row_keys
FROM sent
WHERE newest = 1
ORDER BY chunk_key;
