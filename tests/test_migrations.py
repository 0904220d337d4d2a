"""The migrations build the schema from nothing and take it away again."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect

from portal.migrate import downgrade, upgrade
from portal.models import Base


def table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_empty_database_upgrades_to_head_and_back_to_base(empty_database_url):
    url = empty_database_url
    upgrade(url)
    tables = table_names(url)
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables

    downgrade(url, "base")
    assert table_names(url) <= {"alembic_version"}

    upgrade(url)
    assert set(Base.metadata.tables) <= table_names(url)


def test_migrated_schema_matches_the_models(empty_database_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    url = empty_database_url
    upgrade(url)
    engine = create_engine(url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []


def test_each_step_downgrades_and_upgrades_with_data_in_place(empty_database_url):
    from alembic.script import ScriptDirectory
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from portal.db import make_engine
    from portal.demo import load_demo
    from portal.migrate import alembic_config

    url = empty_database_url
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        load_demo(session, __import__("datetime").date(2026, 3, 2), owner_password="x" * 16)
    engine.dispose()
    revisions = [
        r.revision for r in ScriptDirectory.from_config(alembic_config(url)).walk_revisions()
    ]
    for previous in revisions[1:]:
        downgrade(url, previous)
        upgrade(url)
    engine = make_engine(url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT slug FROM businesses")).scalar() == "demo"
        assert connection.execute(text("SELECT count(*) FROM services")).scalar() == 3
    engine.dispose()
