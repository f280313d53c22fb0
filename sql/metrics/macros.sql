-- Helpers of the metric SQL, created on the report's connection before each report.

-- A caller number in national form, for telling repeat callers: digits only, without the
-- international prefix (00 or +), the instance's country code, or the trunk 0. NULL when the
-- number is withheld (one of `anonymous`, lower case) or too short to be a person's number.
CREATE OR REPLACE TEMP MACRO digits_of(number) AS regexp_replace(coalesce(number, ''), '[^0-9]', '', 'g');

CREATE OR REPLACE TEMP MACRO without_country(d, cc) AS
    CASE
        WHEN starts_with(d, '00' || cc) THEN substr(d, 3 + length(cc))
        WHEN starts_with(d, cc) AND length(d) >= length(cc) + 7 THEN substr(d, 1 + length(cc))
        WHEN starts_with(d, '00') THEN substr(d, 3)
        ELSE d
    END;

CREATE OR REPLACE TEMP MACRO national_number(number, cc, anonymous) AS
    CASE
        WHEN list_contains(anonymous, lower(trim(coalesce(number, '')))) THEN NULL
        WHEN length(ltrim(without_country(digits_of(number), cc), '0')) < 6 THEN NULL
        ELSE ltrim(without_country(digits_of(number), cc), '0')
    END;
