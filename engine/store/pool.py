"""The engine's asyncpg pool: the schema on search_path, timeouts on everything, money
read back as written."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import asyncpg

__all__ = ["DEFAULT_SCHEMA", "check_schema_name", "connect", "create_pool", "decimal_numerics",
           "server_settings"]

DEFAULT_SCHEMA = "tradeengine"
_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def check_schema_name(schema: str) -> str:
    """Return ``schema`` if it is a plain lower-case identifier, else raise ValueError."""
    if not _SCHEMA_RE.match(schema):
        raise ValueError(f"invalid schema name {schema!r}: use [a-z_][a-z0-9_]*")
    return schema


def server_settings(schema: str, application_name: str = "tradeengine") -> dict[str, str]:
    """Session settings of every engine connection: our schema first, UTC."""
    check_schema_name(schema)
    return {"search_path": f"{schema}, public", "application_name": application_name,
            "timezone": "UTC"}


async def create_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 4,
    timeout: float = 10.0,
    command_timeout: float = 30.0,
    schema: str = DEFAULT_SCHEMA,
    **kwargs: Any,
) -> asyncpg.Pool:
    """Create and open an asyncpg pool whose connections use ``schema``.

    ``timeout`` bounds each connection attempt and ``command_timeout`` every statement that
    does not pass its own. With ``min_size=0`` the pool opens no connection up front, so it
    can be created while the server is down.
    """
    pool = asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        timeout=timeout,
        command_timeout=command_timeout,
        server_settings=server_settings(schema),
        init=decimal_numerics,
        **kwargs,
    )
    return await pool


async def decimal_numerics(conn: asyncpg.Connection) -> None:
    """Read ``numeric`` as the Decimal of its text. asyncpg's binary decoding turns a whole
    multiple of 10,000 into ``Decimal('2E+4')``: equal, but a restored order's price or a
    position's quantity would then read ``2E+4`` in /status, events and logs."""
    await conn.set_type_codec("numeric", encoder=str, decoder=Decimal, schema="pg_catalog",
                              format="text")


async def connect(
    dsn: str, *, timeout: float = 10.0, command_timeout: float = 30.0,
    schema: str = DEFAULT_SCHEMA, application_name: str = "tradeengine",
) -> asyncpg.Connection:
    """One connection with the same settings as the pool's."""
    conn = await asyncpg.connect(
        dsn, timeout=timeout, command_timeout=command_timeout,
        server_settings=server_settings(schema, application_name),
    )
    await decimal_numerics(conn)
    return conn
