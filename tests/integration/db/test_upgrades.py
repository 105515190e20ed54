"""`avowal db upgrade` from every earlier schema: each released revision, holding a row in each of
its tables, upgrades to the newest with those rows kept and ends in the schema the models
describe, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Engine,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    func,
    insert,
    select,
)

from avowal.db import migrate
from avowal.db.models import Base

NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


def revisions(engine: Engine) -> list[str]:
    """Return every revision, the oldest first."""
    script = ScriptDirectory.from_config(migrate.alembic_config(engine))
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def _value(column: Any, parents: dict[tuple[str, str], Any], n: int) -> Any:
    """A value of the column's type (the parent's key for a foreign key), unique per ``n``."""
    for fk in column.foreign_keys:
        return parents[(fk.column.table.name, fk.column.name)]
    kind = column.type
    if isinstance(kind, Boolean):
        return False
    if isinstance(kind, Integer):
        return n
    if isinstance(kind, Float | Numeric):
        return 1
    if isinstance(kind, DateTime):
        return NOW
    if isinstance(kind, Date):
        return NOW.date()
    if isinstance(kind, JSON):
        return {}
    if isinstance(kind, LargeBinary):
        return bytes([n % 256]) * (kind.length or 32)
    if isinstance(kind, String | Text):
        length = getattr(kind, "length", None) or 36
        return f"{n:0{min(length, 36)}d}"[:length]
    raise AssertionError(f"no test value for {column.table.name}.{column.name} ({kind!r})")


def seed(engine: Engine) -> dict[str, dict[str, Any]]:
    """Insert one row in each table the schema has (parents first, each foreign key pointing at
    its parent's row); return each table's row by table name."""
    meta = MetaData()
    meta.reflect(engine)
    parents: dict[tuple[str, str], Any] = {}
    rows: dict[str, dict[str, Any]] = {}
    for n, table in enumerate(meta.sorted_tables, start=1):
        if table.name == "alembic_version":
            continue
        row = {
            c.name: _value(c, parents, n)
            for c in table.columns
            if not (c.nullable or c.server_default is not None or c.autoincrement is True)
            or c.primary_key
            or c.foreign_keys
        }
        with engine.begin() as connection:
            connection.execute(insert(table).values(**row))
        for c in table.columns:
            if c.name in row:
                parents[(table.name, c.name)] = row[c.name]
        rows[table.name] = row
    return rows


def test_every_earlier_schema_upgrades_to_the_newest_keeping_its_rows(
    bare_engine: Engine,
) -> None:
    engine = bare_engine
    every = revisions(engine)
    assert len(every) >= 15 and every[0] == "0001"
    head = migrate.head(engine)
    for revision in every[:-1]:
        emptied = MetaData()  # a database never migrated: every table of the last round dropped
        emptied.reflect(engine)
        emptied.drop_all(engine)
        migrate.upgrade(engine, revision)
        assert migrate.current(engine) == revision
        rows = seed(engine)
        assert rows, revision
        migrate.upgrade(engine)  # what `avowal db upgrade` does
        assert migrate.current(engine) == head, revision
        meta = MetaData()
        meta.reflect(engine)
        for name, row in rows.items():
            table: Table = meta.tables[name]
            keys = [c for c in table.primary_key.columns if c.name in row]
            with engine.connect() as connection:
                found = connection.scalar(
                    select(func.count()).select_from(table).where(*(c == row[c.name] for c in keys))
                )
            assert found == 1, (revision, name)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == [], revision
