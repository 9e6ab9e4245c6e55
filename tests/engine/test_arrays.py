"""engine.arrays helpers against numpy's own."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from engine.arrays import sorted_unique


@given(st.lists(st.integers(-(2**62), 2**62) | st.integers(0, 5), max_size=60))
def test_sorted_unique_is_np_unique(values: list[int]) -> None:
    array = np.array(values, dtype=np.int64)
    got = sorted_unique(array)
    assert got.dtype == np.int64
    assert np.array_equal(got, np.unique(array))
