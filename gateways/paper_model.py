"""The paper venue's fill model: the rules and the knobs (``[paper]``).

Rules (:class:`PaperFillModel` holds the knobs; :class:`gateways.fillmodel.Matcher`
applies them):

- An order becomes eligible ``latency_ms`` after submission. Trades delivered after the
  submission are eligible (with latency: when their time has come); a bar only when it
  opened at or after the submission, so a decision on bar N never fills inside bar N.
- Market: fills at the next available price: against the top of book when a quote is known
  (``use_book``; buy at the ask, sell at the bid, up to the quoted size), else at the next
  trade's price or the next bar's open moved ``slippage_bps`` against the order.
- Limit: fills only when the market trades through the limit (``limit_fill = "through"``:
  a buy needs a trade below the limit; ``"touch"``: at or below). When the order is
  marketable on arrival it takes liquidity at the market price, never worse than its limit
  (taker); resting, it fills at its limit (maker). A quote fills a marketable limit on
  arrival only; resting limits fill on trades and bars.
- Stops trigger on a trade at or through the stop price (bars: high/low, at the open when
  the bar gapped through). A stop-loss then fills like a market order at the trigger
  price; a stop-limit becomes a limit order, judged at the trigger price first.
- Volume: one trade's (or bar's) quantity times ``volume_share`` is shared by the orders it
  fills, in arrival order; what is left waits for the next trade (partial fills).
- IOC: whatever the first eligible price does not fill is cancelled. FOK: filled in full
  by the first eligible price or cancelled with no fill.
- Fees: ``maker_fee_bps``/``taker_fee_bps`` of the notional, rounded to ``fee_quantum``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final, Literal

import msgspec

__all__ = ["PaperFillModel"]

_ZERO: Final = Decimal(0)


class PaperFillModel(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[paper]``: how the paper venue fills orders (the rules are in the module docstring)."""

    slippage_bps: Decimal = Decimal(1)
    use_book: bool = True
    volume_share: Decimal = Decimal(1)
    limit_fill: Literal["through", "touch"] = "through"
    maker_fee_bps: Decimal = Decimal(2)
    taker_fee_bps: Decimal = Decimal(5)
    fee_quantum: Decimal = Decimal("1e-10")
    fee_currency: str = "USDT"
    latency_ms: float = 0.0

    def __post_init__(self) -> None:
        if not _ZERO < self.volume_share <= 1:
            raise ValueError(f"paper.volume_share must be in (0, 1], got {self.volume_share}")
        if self.slippage_bps < 0 or self.maker_fee_bps < 0 or self.taker_fee_bps < 0:
            raise ValueError("paper: slippage and fees must be >= 0 bps")
        if self.latency_ms < 0:
            raise ValueError("paper.latency_ms must be >= 0")
