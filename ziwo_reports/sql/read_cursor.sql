SELECT cursor FROM ingest_state WHERE instance = $instance AND stream = $stream;
