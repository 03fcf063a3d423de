"""Scratch PostgreSQL databases for the benchmarks (created fresh, dropped after if asked)."""

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
