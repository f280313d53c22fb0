-- The caller number's digits, kept beside it so reports can tell repeat callers without a
-- regular expression per row.
ALTER TABLE calls ADD COLUMN caller_digits VARCHAR;

UPDATE calls SET caller_digits = regexp_replace(coalesce(caller_number, ''), '[^0-9]', '', 'g');
