"""ADX's steady-state recurrence as SIMD lanes (the machinery is :mod:`._lanes`).

One step reads a bar's high, low and close and the previous bar's, updates the
three Wilder sums (-DM, +DM, TR) and the ADX, and outputs the ADX: TA-Lib's
operations in TA-Lib's order, with its branches turned into selects (a select
picks exactly the value the branch would have computed).
"""

from __future__ import annotations

from typing import Any, Final, cast

from numba.core.extending import intrinsic

from engine.indicators._lanes import _const, _fabs, _make, _Run, _true_range

__all__ = ["ADX_LANES", "adx_lanes"]

ADX_LANES: Final = 4
"""Chunks ADX advances together: one vector (seven divisions a step keep the
divider busy; more lanes would only add memory streams)."""
_EPS: Final = 1e-14
"""TA-Lib's ``TA_IS_ZERO`` bound on the DI sum."""


def _adx(
    b: Any, p: list[Any], st: list[Any], x: list[Any], prev: Any
) -> tuple[list[Any], list[Any]]:
    per, pm1 = p
    zero = _const(0.0)
    hundred = _const(100.0)
    mdm, pdm, ptr, adx = st
    dp = b.fsub(x[0], prev[0])
    dm = b.fsub(prev[1], x[1])
    msel = b.select(b.fcmp_ordered(">", b.fsub(dm, dp), zero), dm, zero)
    psel = b.select(b.fcmp_ordered(">", b.fsub(dp, dm), zero), dp, zero)
    msel = b.select(b.fcmp_ordered(">", dm, zero), msel, zero)
    psel = b.select(b.fcmp_ordered(">", dp, zero), psel, zero)
    mdm = b.fadd(b.fsub(mdm, b.fdiv(mdm, per)), msel)
    pdm = b.fadd(b.fsub(pdm, b.fdiv(pdm, per)), psel)
    ptr = b.fadd(b.fsub(ptr, b.fdiv(ptr, per)), _true_range(b, x, prev[2]))
    mdi = b.fmul(hundred, b.fdiv(mdm, ptr))
    pdi = b.fmul(hundred, b.fdiv(pdm, ptr))
    t = b.fadd(mdi, pdi)
    near0 = b.and_(b.fcmp_ordered("<", _const(-_EPS), t), b.fcmp_ordered("<", t, _const(_EPS)))
    ok = b.and_(b.fcmp_ordered(">", ptr, zero), b.not_(near0))
    dx = b.fmul(hundred, b.fdiv(_fabs(b, b.fsub(mdi, pdi)), t))
    adx = b.select(ok, b.fdiv(b.fadd(b.fmul(adx, pm1), dx), per), adx)
    return [mdm, pdm, ptr, adx], [adx]


_ADX = _make(ADX_LANES, 3, 4, 2, (0, 1, 2), _adx)


@intrinsic
def _adx_lanes(
    tc: Any, h: Any, lo: Any, c: Any, o: Any, s: Any, b: Any, d: Any, n: Any, p: Any, pm1: Any
) -> Any:
    """``(high, low, close, out, state, base, step, nsteps, period, period - 1)``;
    state is -DM sums, +DM sums, TR sums, then ADX; out gets the ADX."""
    return _ADX(h, lo, c, o, s, b, d, n, p, pm1)


adx_lanes: Final = cast(_Run, _adx_lanes)
