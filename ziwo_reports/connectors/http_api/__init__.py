"""The HTTP API connector (delivery type `http_api`): report rows to any HTTP API, through a field
mapping, with the credentials of an "HTTP API Credentials" block."""
