-- Records of an instance in quarantine, listed under instance days first_day..last_day.
SELECT count(*) FROM quarantine
WHERE instance = $instance AND source_date BETWEEN $first_day AND $last_day;
