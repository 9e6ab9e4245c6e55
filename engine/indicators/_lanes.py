"""Lanes of one recurrence in AVX2 registers, written as LLVM IR.

The speculative chunking in :mod:`._chunked` cuts a series into four or eight chunks
("lanes") that advance in lockstep. Scalar code runs out of registers at about
eight chains and still pays one instruction per lane per operation; numba does
not SLP-vectorize, and its loop vectorizer cannot put loop-carried state in
registers. So the lockstep loop is emitted here directly: one ``<4 x double>``
vector per state variable and group of four lanes, four time steps per iteration.
Each lane's four inputs are read with one 32-byte load and turned into
per-step vectors by a 4x4 transpose; the outputs go back the same way. (Two
16-byte loads per lane and in-lane shuffles only measured slower for EMA and
ATR and the same for RSI.)

Only IEEE operations that round exactly like the scalar code are used
(``fsub``/``fmul``/``fadd``/``fdiv`` without fast-math flags, ``llvm.fma``,
``llvm.fabs``, ordered compares and selects), so each lane computes the same
bits as the scalar recurrence on its chunk.

Calling convention of every intrinsic here::

    kernel(in_0, ..., in_k, out_0, ..., out_m, state, base, step, nsteps, param_0, ...)

Lane ``c`` reads and writes (every input and output) index ``base + c * step + t`` for ``t`` in
``0 .. nsteps-1`` (``nsteps`` a multiple of 4; ``base + c * step >= 1``, since
RSI and ATR also read the previous bar). ``state`` holds one value per lane and
state variable (variable-major), is read at entry and written back at exit.
The lane count is fixed per kernel (``EMA_LANES`` etc.).
The caller checks every bound; there is none in here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final, cast

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.extending import intrinsic

__all__ = [
    "ATR_LANES", "EMA_LANES", "MACD_LANES", "RSI_LANES",
    "atr_lanes_fused", "atr_lanes_plain", "ema_lanes_fused", "ema_lanes_plain",
    "macd_lanes_fused", "macd_lanes_plain", "rsi_lanes",
]  # fmt: skip

EMA_LANES: Final = 8
"""Chunks the EMA advances together (two vectors of four)."""
RSI_LANES: Final = 8
"""Chunks RSI advances together."""
MACD_LANES: Final = 4
"""Chunks MACD advances together (three outputs: eight lanes would be 32 streams)."""
ATR_LANES: Final = 4
"""Chunks ATR advances together: one vector. With three inputs, eight lanes make
32 memory streams, which ran 2-3x slower than four lanes here."""

_DBL = ir.DoubleType()
_V4 = ir.VectorType(_DBL, 4)
_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_F64_1D = types.Array(types.float64, 1, "C")

# step(builder, params, state, inputs, prev) -> (new state, output vectors)
Step = Callable[[Any, list[Any], list[Any], list[Any], Any], tuple[list[Any], list[Any]]]


def _mask(*ix: int) -> ir.Constant:
    return ir.Constant(ir.VectorType(_I32, len(ix)), [ir.Constant(_I32, i) for i in ix])


def _splat(b: Any, value: Any) -> Any:
    v = ir.Constant(_V4, ir.Undefined)
    for c in range(4):
        v = b.insert_element(v, value, ir.Constant(_I32, c))
    return v


def _const(value: float) -> ir.Constant:
    return ir.Constant(_V4, [ir.Constant(_DBL, value)] * 4)


def _vfn(b: Any, name: str, nargs: int) -> Any:
    fnty = ir.FunctionType(_V4, [_V4] * nargs)
    return cgutils.get_or_insert_function(b.module, fnty, name)  # type: ignore[no-untyped-call]


def _fma(b: Any, x: Any, y: Any, z: Any) -> Any:
    """``x * y + z`` rounded once, four lanes."""
    return b.call(_vfn(b, "llvm.fma.v4f64", 3), [x, y, z])


def _fabs(b: Any, x: Any) -> Any:
    return b.call(_vfn(b, "llvm.fabs.v4f64", 1), [x])


def _ptr(b: Any, base: Any, idx: Any, ty: Any) -> Any:
    return b.bitcast(b.gep(base, [idx], inbounds=True), ty.as_pointer())


def _transpose(b: Any, r: Sequence[Any]) -> list[Any]:
    """4x4 transpose of four vectors (two lane-crossing steps)."""
    t0 = b.shuffle_vector(r[0], r[1], _mask(0, 4, 2, 6))
    t1 = b.shuffle_vector(r[0], r[1], _mask(1, 5, 3, 7))
    t2 = b.shuffle_vector(r[2], r[3], _mask(0, 4, 2, 6))
    t3 = b.shuffle_vector(r[2], r[3], _mask(1, 5, 3, 7))
    return [
        b.shuffle_vector(t0, t2, _mask(0, 1, 4, 5)),
        b.shuffle_vector(t1, t3, _mask(0, 1, 4, 5)),
        b.shuffle_vector(t0, t2, _mask(2, 3, 6, 7)),
        b.shuffle_vector(t1, t3, _mask(2, 3, 6, 7)),
    ]


def _gather(b: Any, data: Any, t: Any, offs: Sequence[Any]) -> list[Any]:
    """Steps ``t .. t+3`` of four lanes as four vectors (vector ``s`` = step ``t+s``):
    one 32-byte load per lane and a 4x4 transpose."""
    return _transpose(b, [b.load(_ptr(b, data, b.add(t, o), _V4), align=8) for o in offs])


def _scatter(b: Any, data: Any, t: Any, offs: Sequence[Any], vals: Sequence[Any]) -> None:
    """Inverse of :func:`_gather`."""
    for o, row in zip(offs, _transpose(b, vals), strict=True):
        b.store(row, _ptr(b, data, b.add(t, o), _V4), align=8)


def _lane_values(b: Any, data: Any, idx: Any, offs: Sequence[Any]) -> Any:
    """One value per lane (``data[off + idx]``) as a vector."""
    v = ir.Constant(_V4, ir.Undefined)
    for c, o in enumerate(offs):
        p = b.gep(data, [b.add(idx, o)], inbounds=True)
        v = b.insert_element(v, b.load(p, align=8), ir.Constant(_I32, c))
    return v


def _make(
    lanes: int,
    n_in: int,
    n_state: int,
    n_param: int,
    prev_of: int | tuple[int, ...] | None,
    step: Step,
    n_out: int = 1,
) -> Callable[..., Any]:
    """The typing half of an intrinsic running ``step`` over ``lanes`` lanes (see
    the module docstring): argument types in, ``(signature, codegen)`` or None out.
    ``prev_of`` names the input whose previous bar ``step`` gets (or a tuple of
    inputs: ``step`` then gets a list of their previous bars)."""
    n_arr = n_in + n_out + 1
    pv = () if prev_of is None else (prev_of,) if isinstance(prev_of, int) else prev_of

    def prev_arg(prevs: list[Any]) -> Any:
        return prevs[0] if isinstance(prev_of, int) else (prevs if pv else None)

    def typer(*args: Any) -> Any:
        arrays, ints, floats = args[:n_arr], args[n_arr : n_arr + 3], args[n_arr + 3 :]
        if len(floats) != n_param or any(a != _F64_1D for a in arrays):
            return None
        if not all(isinstance(i, types.Integer) for i in ints):
            return None
        if not all(isinstance(f, types.Float) for f in floats):
            return None
        sig = types.void(*arrays, types.int64, types.int64, types.int64, *[types.float64] * n_param)

        def codegen(context: Any, b: Any, signature: Any, llargs: Any) -> Any:
            data = [context.make_array(_F64_1D)(context, b, a).data for a in llargs[:n_arr]]
            ins, outs, state = data[:n_in], data[n_in : n_arr - 1], data[n_arr - 1]
            base, stride, nsteps = llargs[n_arr : n_arr + 3]
            params = [_splat(b, p) for p in llargs[n_arr + 3 :]]
            offs = [b.add(base, b.mul(stride, ir.Constant(_I64, c))) for c in range(lanes)]
            groups = [offs[g : g + 4] for g in range(0, lanes, 4)]
            slots: list[list[Any]] = []
            for g, goffs in enumerate(groups):
                vals = [
                    b.load(_ptr(b, state, ir.Constant(_I64, s * lanes + 4 * g), _V4), align=8)
                    for s in range(n_state)
                ]
                for i in pv:
                    vals.append(_lane_values(b, ins[i], ir.Constant(_I64, -1), goffs))
                slots.append([cgutils.alloca_once_value(b, v) for v in vals])  # type: ignore[no-untyped-call]
            nblk = b.udiv(nsteps, ir.Constant(_I64, 4))
            with cgutils.for_range(b, nblk) as loop:
                t = b.mul(loop.index, ir.Constant(_I64, 4))
                for goffs, gslots in zip(groups, slots, strict=True):
                    cols = [_gather(b, a, t, goffs) for a in ins]
                    vals = [b.load(s) for s in gslots]
                    st, prevs = vals[:n_state], vals[n_state:]
                    res: list[list[Any]] = [[] for _ in outs]
                    for s in range(4):
                        now = [c[s] for c in cols]
                        st, o = step(b, params, st, now, prev_arg(prevs))
                        prevs = [now[i] for i in pv]
                        for r, v in zip(res, o, strict=True):
                            r.append(v)
                    for slot, v in zip(gslots, [*st, *prevs], strict=True):
                        b.store(v, slot)
                    for out, r in zip(outs, res, strict=True):
                        _scatter(b, out, t, goffs, r)
            for g, gslots in enumerate(slots):
                for s in range(n_state):
                    dst = _ptr(b, state, ir.Constant(_I64, s * lanes + 4 * g), _V4)
                    b.store(b.load(gslots[s]), dst, align=8)
            return context.get_dummy_value()

        return sig, codegen

    return typer


def _ema_fused(
    b: Any, p: list[Any], st: list[Any], x: list[Any], _: Any
) -> tuple[list[Any], list[Any]]:
    e = _fma(b, b.fsub(x[0], st[0]), p[0], st[0])
    return [e], [e]


def _ema_plain(
    b: Any, p: list[Any], st: list[Any], x: list[Any], _: Any
) -> tuple[list[Any], list[Any]]:
    e = b.fadd(b.fmul(b.fsub(x[0], st[0]), p[0]), st[0])
    return [e], [e]


def _true_range(b: Any, x: list[Any], pc: Any) -> Any:
    g = b.fsub(x[0], x[1])
    v2 = _fabs(b, b.fsub(pc, x[0]))
    g = b.select(b.fcmp_ordered(">", v2, g), v2, g)
    v3 = _fabs(b, b.fsub(pc, x[1]))
    return b.select(b.fcmp_ordered(">", v3, g), v3, g)


def _atr_fused(
    b: Any, p: list[Any], st: list[Any], x: list[Any], pc: Any
) -> tuple[list[Any], list[Any]]:
    a = _fma(b, st[0], p[0], b.fmul(_true_range(b, x, pc), p[1]))
    return [a], [a]


def _atr_plain(
    b: Any, p: list[Any], st: list[Any], x: list[Any], pc: Any
) -> tuple[list[Any], list[Any]]:
    a = b.fadd(b.fmul(st[0], p[0]), b.fmul(_true_range(b, x, pc), p[1]))
    return [a], [a]


def _rsi(
    b: Any, p: list[Any], st: list[Any], x: list[Any], prev: Any
) -> tuple[list[Any], list[Any]]:
    pm1, inv = p
    zero = _const(0.0)
    d = b.fsub(x[0], prev)
    gain = b.fmul(st[0], pm1)
    loss = b.fmul(st[1], pm1)
    up = b.select(b.fcmp_ordered(">", d, zero), d, zero)
    gain = b.fmul(b.fadd(gain, up), inv)
    loss = b.fmul(b.fadd(loss, b.fsub(up, d)), inv)
    total = b.fadd(gain, loss)
    r = b.fmul(_const(100.0), b.fdiv(gain, total))
    return [gain, loss], [b.select(b.fcmp_ordered(">", total, zero), r, zero)]


def _macd_fused(
    b: Any, p: list[Any], st: list[Any], x: list[Any], _: Any
) -> tuple[list[Any], list[Any]]:
    kf, ks, kg = p
    fast = _fma(b, b.fsub(x[0], st[0]), kf, st[0])
    slow = _fma(b, b.fsub(x[0], st[1]), ks, st[1])
    line = b.fsub(fast, slow)
    sig = _fma(b, b.fsub(line, st[2]), kg, st[2])
    return [fast, slow, sig], [line, sig, b.fsub(line, sig)]


def _macd_plain(
    b: Any, p: list[Any], st: list[Any], x: list[Any], _: Any
) -> tuple[list[Any], list[Any]]:
    kf, ks, kg = p
    fast = b.fadd(b.fmul(b.fsub(x[0], st[0]), kf), st[0])
    slow = b.fadd(b.fmul(b.fsub(x[0], st[1]), ks), st[1])
    line = b.fsub(fast, slow)
    sig = b.fadd(b.fmul(b.fsub(line, st[2]), kg), st[2])
    return [fast, slow, sig], [line, sig, b.fsub(line, sig)]


_EMA_FUSED = _make(EMA_LANES, 1, 1, 1, None, _ema_fused)
_EMA_PLAIN = _make(EMA_LANES, 1, 1, 1, None, _ema_plain)
_ATR_FUSED = _make(ATR_LANES, 3, 1, 2, 2, _atr_fused)
_ATR_PLAIN = _make(ATR_LANES, 3, 1, 2, 2, _atr_plain)
_RSI = _make(RSI_LANES, 1, 2, 2, 0, _rsi)
_MACD_FUSED = _make(MACD_LANES, 1, 3, 3, None, _macd_fused, n_out=3)
_MACD_PLAIN = _make(MACD_LANES, 1, 3, 3, None, _macd_plain, n_out=3)


@intrinsic
def _ema_lanes_fused(tc: Any, x: Any, o: Any, s: Any, b: Any, d: Any, n: Any, k: Any) -> Any:
    """``(x, out, state, base, step, nsteps, k)``: ``e = fma(x - e, k, e)``."""
    return _EMA_FUSED(x, o, s, b, d, n, k)


@intrinsic
def _ema_lanes_plain(tc: Any, x: Any, o: Any, s: Any, b: Any, d: Any, n: Any, k: Any) -> Any:
    """``(x, out, state, base, step, nsteps, k)``: ``e = (x - e) * k + e``."""
    return _EMA_PLAIN(x, o, s, b, d, n, k)


@intrinsic
def _atr_lanes_fused(
    tc: Any, h: Any, lo: Any, c: Any, o: Any, s: Any, b: Any, d: Any, n: Any, be: Any, al: Any
) -> Any:
    """``(high, low, close, out, state, base, step, nsteps, beta, alpha)``:
    ``a = fma(a, beta, tr * alpha)``."""
    return _ATR_FUSED(h, lo, c, o, s, b, d, n, be, al)


@intrinsic
def _atr_lanes_plain(
    tc: Any, h: Any, lo: Any, c: Any, o: Any, s: Any, b: Any, d: Any, n: Any, be: Any, al: Any
) -> Any:
    """``(high, low, close, out, state, base, step, nsteps, beta, alpha)``:
    ``a = a * beta + tr * alpha``."""
    return _ATR_PLAIN(h, lo, c, o, s, b, d, n, be, al)


@intrinsic
def _rsi_lanes(tc: Any, x: Any, o: Any, s: Any, b: Any, d: Any, n: Any, pm1: Any, inv: Any) -> Any:
    """``(x, out, state, base, step, nsteps, period - 1, 1 / period)``; state is
    the gains then the losses; out gets ``100 * gain / (gain + loss)`` or 0."""
    return _RSI(x, o, s, b, d, n, pm1, inv)


@intrinsic
def _macd_lanes_fused(
    tc: Any,
    x: Any,
    m: Any,
    sg: Any,
    h: Any,
    s: Any,
    b: Any,
    d: Any,
    n: Any,
    kf: Any,
    ks: Any,
    kg: Any,
) -> Any:
    """``(x, line, signal, hist, state, base, step, nsteps, kf, ks, kg)``; state is
    the fast EMAs, the slow EMAs, then the signal EMAs; every EMA step fused."""
    return _MACD_FUSED(x, m, sg, h, s, b, d, n, kf, ks, kg)


@intrinsic
def _macd_lanes_plain(
    tc: Any,
    x: Any,
    m: Any,
    sg: Any,
    h: Any,
    s: Any,
    b: Any,
    d: Any,
    n: Any,
    kf: Any,
    ks: Any,
    kg: Any,
) -> Any:
    """As :func:`_macd_lanes_fused` with ``(x - e) * k + e`` steps."""
    return _MACD_PLAIN(x, m, sg, h, s, b, d, n, kf, ks, kg)


_Run = Callable[..., None]
ema_lanes_fused: Final = cast(_Run, _ema_lanes_fused)
ema_lanes_plain: Final = cast(_Run, _ema_lanes_plain)
atr_lanes_fused: Final = cast(_Run, _atr_lanes_fused)
atr_lanes_plain: Final = cast(_Run, _atr_lanes_plain)
rsi_lanes: Final = cast(_Run, _rsi_lanes)
macd_lanes_fused: Final = cast(_Run, _macd_lanes_fused)
macd_lanes_plain: Final = cast(_Run, _macd_lanes_plain)
