"""Scratch PostgreSQL databases for the benchmarks (created fresh, dropped after if asked), and
the CPU time of the server process behind a connection."""

import os
from pathlib import Path

import psycopg2


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


def backend_cpu() -> float:
    """CPU seconds (user + system) of Django's connection's PostgreSQL backend; 0 if not readable
    (read from /proc, so only with a server on this machine)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
