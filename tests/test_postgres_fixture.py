"""The throwaway PostgreSQL server of the test suite (tests/postgres.py) really serves SQL."""

from __future__ import annotations

import sqlalchemy as sa

from tests.postgres import PostgresServer


def test_url_names_a_fresh_database_on_localhost(postgres_url: str, postgres_server: PostgresServer) -> None:
    url = sa.make_url(postgres_url)
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port) == ("127.0.0.1", postgres_server.port)
    assert url.database is not None and url.database.startswith("t_")
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT current_database()")).scalar_one() == url.database
            tables = conn.execute(
                sa.text("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")
            ).scalar_one()
            assert tables == 0
            assert conn.execute(sa.text("SHOW server_version_num")).scalar_one()
    finally:
        engine.dispose()


def test_two_connections_see_each_others_commits(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    items = sa.Table(
        "items",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
    )
    try:
        items.metadata.create_all(engine)
        with engine.connect() as a, engine.connect() as b:
            a.execute(items.insert().values(id=1, name="from a"))
            # Not committed yet: b must not see it (a real server with real transactions, unlike StaticPool).
            assert b.execute(sa.select(sa.func.count()).select_from(items)).scalar_one() == 0
            b.rollback()
            a.commit()
            assert b.execute(sa.select(items.c.name)).scalars().all() == ["from a"]
            b.execute(items.insert().values(id=2, name="from b"))
            b.commit()
            assert a.execute(sa.select(items.c.name).order_by(items.c.id)).scalars().all() == [
                "from a",
                "from b",
            ]
    finally:
        engine.dispose()


def test_each_test_gets_its_own_database(postgres_url: str, postgres_server: PostgresServer) -> None:
    """The database of one test is dropped afterwards; a new one is empty (no tables left by another)."""
    other = postgres_server.create_database()
    try:
        assert other != sa.make_url(postgres_url).database
        with postgres_server.connect() as conn:
            names = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
        assert {other, sa.make_url(postgres_url).database} <= names
    finally:
        postgres_server.drop_database(other)
    with postgres_server.connect() as conn:
        names = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
    assert other not in names
