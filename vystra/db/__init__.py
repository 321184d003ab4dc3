"""Postgres + pgvector: connection, embedded server, migrations, queries."""

from vystra.db.connection import Database, open_database

__all__ = ["Database", "open_database"]
