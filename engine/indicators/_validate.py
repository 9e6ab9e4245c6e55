"""Argument checks shared by the batch wrappers (the public boundary)."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from engine.indicators._fma import HOST_HAS_FMA

__all__ = [
    "as_series",
    "check_out",
    "check_outs",
    "check_period",
    "check_real",
    "resolve_fused",
    "same_length",
]


def as_series(name: str, a: object) -> np.ndarray:
    """Return ``a`` as a contiguous 1-D float64 array, or raise ``ValueError``.

    No dtype conversion is done: an integer or float32 array is a caller bug
    (TA-Lib rejects them too). A non-contiguous view is copied, and so is a read-only
    array (a bar ring's view, ``ctx.bars(...).close()``): the fused kernels are compiled
    for writeable arrays only, and numba would refuse it with a typing error.
    """
    if not isinstance(a, np.ndarray):
        raise ValueError(f"{name} must be a numpy.ndarray of float64, got {type(a).__name__}")
    if a.dtype != np.float64:
        raise ValueError(f"{name} must have dtype float64, got {a.dtype}")
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-dimensional, got shape {a.shape}")
    return np.ascontiguousarray(a) if a.flags.writeable else a.copy()


def same_length(**arrays: np.ndarray) -> int:
    """Return the common length of ``arrays`` or raise ``ValueError``."""
    lengths = {k: v.shape[0] for k, v in arrays.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{k}={n}" for k, n in lengths.items())
        raise ValueError(f"inputs must have the same length, got {detail}")
    return int(next(iter(lengths.values())))


def check_period(name: str, value: object, minimum: int = 1) -> int:
    """Return ``value`` as an int if it is an integer ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    v = int(value)
    if v < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v}")
    return v


def check_real(name: str, value: object) -> float:
    """Return ``value`` as a finite float or raise ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    return v


def check_out(n: int, out: np.ndarray | None, label: str = "out") -> np.ndarray:
    """Validate a preallocated output (C-contiguous writable float64 of length n)
    or allocate one."""
    if out is None:
        return np.empty(n, dtype=np.float64)
    if not isinstance(out, np.ndarray) or out.dtype != np.float64 or out.shape != (n,):
        raise ValueError(f"{label} must be a float64 array of shape ({n},)")
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError(f"{label} must be C-contiguous and writeable")
    return out


def check_outs(n: int, out: Sequence[np.ndarray] | None, count: int) -> list[np.ndarray]:
    """Validate a tuple of ``count`` preallocated outputs, or allocate them."""
    if out is None:
        return [np.empty(n, dtype=np.float64) for _ in range(count)]
    if len(out) != count:
        raise ValueError(f"out must hold {count} arrays, got {len(out)}")
    arrays = [check_out(n, o, f"out[{i}]") for i, o in enumerate(out)]
    if len({id(a) for a in arrays}) != count:
        raise ValueError("out arrays must be distinct")
    return arrays


def resolve_fused(fused: bool | None) -> bool:
    """``None`` means "round like the installed TA-Lib on this CPU"."""
    return HOST_HAS_FMA if fused is None else bool(fused)
