"""Make the shared trading harness (tests/orders/trading_harness.py) importable."""

import sys
from pathlib import Path

_ORDERS = str(Path(__file__).resolve().parent.parent / "orders")
if _ORDERS not in sys.path:
    sys.path.insert(0, _ORDERS)
