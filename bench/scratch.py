"""Scratch PostgreSQL databases for the benchmarks (created fresh, dropped after if asked), and
the CPU time of the server process behind a connection."""

import os
import tempfile
from pathlib import Path

import psycopg2

from bench.busy import cpu_seconds


def use_database(default: str, *, redis_db: int, var_dir: str) -> str:
    """Point Django (settings read later) at the scratch database BENCH_DB, else `default`; return
    its name. Redis db `redis_db` on loopback and VAR_DIR under the temporary directory unless set."""
    name = os.environ.get("BENCH_DB", default)
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{name}"
    os.environ.setdefault("REDIS_URL", f"redis://127.0.0.1:6379/{redis_db}")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
    os.environ.setdefault("COINPILOT_VAR_DIR", str(Path(tempfile.gettempdir()) / var_dir))
    os.environ["DJANGO_SETTINGS_MODULE"] = "coinpilot_site.settings"
    return name


def _admin(statement: str) -> None:
    conn = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    conn.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


def create_database(name: str) -> None:
    """An empty database `name` (dropped first if it exists)."""
    drop_database(name)
    _admin("CREATE DATABASE " + name)


def drop_database(name: str) -> None:
    _admin("DROP DATABASE IF EXISTS " + name)


def database_exists(name: str) -> bool:
    conn = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            return cur.fetchone() is not None
    finally:
        conn.close()


def backend_cpu() -> float:
    """CPU seconds (user + system) of Django's connection's PostgreSQL backend; 0 if not readable
    (read from /proc, so only with a server on this machine)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cpu_seconds(cursor.fetchone()[0])
