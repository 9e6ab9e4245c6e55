"""A local exchange server for tests: the subset of the Binance spot REST and WebSocket
API that ccxt's ``binance`` class uses for market data, serving recorded real data from
``tests/data`` (or any directory) as if it were live.

Run on its own: ``python -m tests.exchange_server --port 8900 --speed 60``; point ccxt at
it with ``exchange.urls['api']['public'] = 'http://127.0.0.1:8900/api/v3'`` and
``exchange.urls['api']['ws']['spot'] = 'ws://127.0.0.1:8900/ws'``.

Control (HTTP, for tests): ``POST /_control/drop`` (close every WebSocket; ``?mode=abort``
cuts the TCP connection without a close frame), ``/_control/stall?seconds=S`` (send
nothing for S wall seconds; what happens meanwhile is lost, as on a stalled link),
``/_control/malformed?count=N`` (the next N stream frames are malformed),
``/_control/gap?count=N`` (the next N trade frames are not sent), ``/_control/pause`` and
``/_control/resume`` (freeze/unfreeze the server's clock); ``GET /_control/state``.
"""
