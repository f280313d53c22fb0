-- Whether the contacts table is in step with the legs of an instance (all instances: NULL):
-- (has legs, has contacts, has contacts made with another country code than $country_code).
SELECT
    EXISTS (SELECT 1 FROM calls WHERE $instance::VARCHAR IS NULL OR instance = $instance::VARCHAR),
    EXISTS (SELECT 1 FROM contacts WHERE $instance::VARCHAR IS NULL OR instance = $instance::VARCHAR),
    EXISTS (
        SELECT 1 FROM contacts
        WHERE ($instance::VARCHAR IS NULL OR instance = $instance::VARCHAR) AND country_code <> $country_code::VARCHAR
    );
