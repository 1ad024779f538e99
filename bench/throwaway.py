"""Every benchmark runs on a database of its own, never on the one DATABASE_URL names.

With DATABASE_URL pointing at a PostgreSQL server, a benchmark gets a fresh database named
for it on that server (dropped and created again); otherwise a fresh SQLite file in /tmp.
Call `use_throwaway_database(name)` before django.setup().
"""

import os
import tempfile
from urllib.parse import urlparse, urlunparse


def _admin_url(url: str) -> str:
    return urlunparse(urlparse(url)._replace(path="/postgres"))


def use_throwaway_database(name: str, *, postgres_required: bool = False) -> str:
    """Point DATABASE_URL at a fresh database `name`; return the vendor."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres") and postgres_required:
        url = "postgres://postgres@127.0.0.1:5432/postgres"
    if url.startswith("postgres"):
        import psycopg

        with psycopg.connect(_admin_url(url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        os.environ["DATABASE_URL"] = urlunparse(urlparse(url)._replace(path=f"/{name}"))
        return "postgresql"
    folder = tempfile.mkdtemp(prefix=f"{name}-")
    os.environ["DATABASE_URL"] = f"sqlite:///{folder}/{name}.sqlite3"
    return "sqlite"


def drop_throwaway_database(name: str) -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        return
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(_admin_url(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
