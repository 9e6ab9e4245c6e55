"""Config texts the engine-level tests share."""

PAPER_REPLAY = """
[replay]
files = ["coinbase_btcusd_1m_2018-04-04_2018-04-06.csv.gz"]
speed = 0.0
loop = false

[health]
port = 0
"""
"""The embedded default's paper trading over recorded Coinbase BTC/USD 1m bars, replayed
as fast as they are handled, once; the health endpoint on a free port."""
