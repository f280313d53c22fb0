"""Local fakes of third-party APIs, each a real HTTP server on 127.0.0.1 (see each module)."""
