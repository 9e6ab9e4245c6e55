import asyncio

import asyncpg


def test_database_url_is_a_fresh_database(database_url: str) -> None:
    async def check() -> int:
        conn = await asyncpg.connect(database_url)
        try:
            return int(await conn.fetchval(
                "select count(*) from information_schema.tables where table_schema='public'"))
        finally:
            await conn.close()

    assert asyncio.run(check()) == 0
