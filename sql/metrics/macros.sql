-- Helpers of the metric SQL, created on the report's connection before each report.

-- A caller's national number, for telling repeat callers, from the digits of the number as
-- shown (calls.caller_digits): without the international prefix (00) and the instance's
-- country code, and without the trunk 0. NULL when the number is withheld (the number as shown
-- is one of `anonymous`, lower case) or too short to be a person's number.
CREATE OR REPLACE TEMP MACRO without_country(d, cc) AS
    CASE
        WHEN starts_with(d, '00' || cc) THEN substr(d, 3 + length(cc))
        WHEN starts_with(d, cc) AND length(d) >= length(cc) + 7 THEN substr(d, 1 + length(cc))
        WHEN starts_with(d, '00') THEN substr(d, 3)
        ELSE d
    END;

CREATE OR REPLACE TEMP MACRO national_number(number, digits, cc, anonymous) AS
    CASE
        WHEN list_contains(anonymous, lower(trim(coalesce(number, '')))) THEN NULL
        ELSE nullif(ltrim(without_country(digits, cc), '0'), '')
    END;
