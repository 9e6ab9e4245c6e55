"""Fused multiply-add for numba kernels, and which rounding TA-Lib uses here.

TA-Lib 0.8.x ships a few functions (EMA, MACD, ATR, BBANDS and the EMA family)
twice, once compiled with FMA contraction and once without, and picks one at
load time through an ELF ``ifunc`` resolver that asks the CPU whether it has
FMA. A fused ``fma(a, b, c)`` rounds once where ``a * b + c`` rounds twice, so
the last bit of every recurrence depends on that choice.

numba does not contract ``a * b + c`` on its own (no fast-math flags are set in
this package), so the unfused spelling below is exactly C's two roundings, and
:func:`fma` emits the ``llvm.fma.f64`` intrinsic, which LLVM lowers to one
``vfmadd`` instruction on an FMA machine (and to a correctly rounded libm call
elsewhere, so the fused path gives the same bits everywhere).

:data:`HOST_HAS_FMA` mirrors TA-Lib's resolver: it is true when LLVM reports the
``fma`` feature for the host CPU. The kernels take a ``fused`` flag; the public
wrappers default it to :data:`HOST_HAS_FMA`, which is what the installed TA-Lib
does on the same machine. The test-suite checks that choice against TA-Lib's
own output, so a machine where the two disagree fails loudly instead of
drifting by an ulp.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Final, cast

import llvmlite.binding as _llvm
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.extending import intrinsic

__all__ = ["HOST_HAS_FMA", "fma"]


def _detect_fma() -> bool:
    """Return whether the host CPU has FMA (override: ``TRADEENGINE_FMA=0|1``)."""
    forced = os.environ.get("TRADEENGINE_FMA")
    if forced in ("0", "1"):
        return forced == "1"
    try:
        return bool(_llvm.get_host_cpu_features().get("fma", False))
    except RuntimeError:  # pragma: no cover - feature query unsupported
        return False


HOST_HAS_FMA: Final[bool] = _detect_fma()
"""True when TA-Lib's run-time dispatch would pick its FMA-compiled functions."""


@intrinsic
def _fma(typingctx: Any, a: Any, b: Any, c: Any) -> Any:
    """``a * b + c`` rounded once (``llvm.fma.f64``); float64 arguments only."""
    if not all(isinstance(t, types.Float) and t.bitwidth == 64 for t in (a, b, c)):
        return None
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        fnty = ir.FunctionType(ir.DoubleType(), [ir.DoubleType()] * 3)
        fn = cgutils.get_or_insert_function(  # type: ignore[no-untyped-call]
            builder.module, fnty, "llvm.fma.f64"
        )
        return builder.call(fn, list(args))

    return sig, codegen


fma: Final = cast(Callable[[float, float, float], float], _fma)
"""``fma(a, b, c)``: ``a * b + c`` with one rounding, callable from numba code."""
