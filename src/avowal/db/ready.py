"""Readiness: can the database take a write right now (not merely answer a read)?"""

from __future__ import annotations

from sqlalchemy import Engine, text

# A probe answers within about this long, locked database or not.
PROBE_TIMEOUT_MS = 1000
# Touches no row, but the database must grant the write lock, and refuses it when it is locked,
# read-only, or has no schema; the transaction is rolled back.
NO_OP_WRITE = text("UPDATE alembic_version SET version_num = version_num WHERE 1 = 0")


def check_writable(engine: Engine) -> None:
    """Raise SQLAlchemy's error unless the database accepts a write now (nothing is written)."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            # The probe's own connection waits for a lock only briefly, and is then discarded
            # rather than handed back to the pool with a changed timeout.
            try:
                # Before the transaction begins: beginning may already take the write lock.
                raw = conn.connection.dbapi_connection
                assert raw is not None
                raw.execute(f"PRAGMA busy_timeout={PROBE_TIMEOUT_MS}")
                conn.execute(NO_OP_WRITE)
                conn.rollback()
            finally:
                conn.invalidate()
            return
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{PROBE_TIMEOUT_MS}ms'")
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = '{2 * PROBE_TIMEOUT_MS}ms'")
        conn.execute(NO_OP_WRITE)
        conn.rollback()
