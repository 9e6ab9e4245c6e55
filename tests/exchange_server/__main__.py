"""``python -m tests.exchange_server --port N [--data DIR] [--speed X]``.

Prints ``LISTENING <port>`` once it accepts connections (``--port 0`` picks a free port).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from pathlib import Path

from aiohttp import web

from tests.exchange_server.server import ExchangeServer

DEFAULT_DATA = Path(__file__).resolve().parent.parent / "data"


async def _serve(args: argparse.Namespace) -> None:
    server = ExchangeServer(Path(args.data), speed=args.speed,
                            start_ns=args.start_ms * 1_000_000 if args.start_ms else None,
                            history_s=args.history_s, kline_history=args.kline_history)
    runner = web.AppRunner(server.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port, shutdown_timeout=1.0)
    await site.start()
    sockets = getattr(site._server, "sockets", None) or []
    port = sockets[0].getsockname()[1] if sockets else args.port
    print(f"LISTENING {port}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> None:
    """Parse arguments and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m tests.exchange_server",
                                     description="Local Binance-like market data server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="directory of binance_* files")
    parser.add_argument("--speed", type=float, default=60.0,
                        help="data seconds per wall second")
    parser.add_argument("--start-ms", type=int, default=0,
                        help="data time to start at (epoch ms); default: first data + history")
    parser.add_argument("--history-s", type=float, default=3600.0,
                        help="data seconds before the start that REST serves as history")
    parser.add_argument("--kline-history", type=int, default=0,
                        help="closed candles REST serves before now, as venues that keep only "
                             "the latest do (default 0: all, as Binance)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
