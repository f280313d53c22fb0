"""A relational database as a delivery target (type `sql`): report rows upserted into a table that
is created and evolved from the report's columns, through SQLAlchemy 2 (PostgreSQL, MariaDB/MySQL,
SQLite, and any other database SQLAlchemy reaches with an upsert)."""
