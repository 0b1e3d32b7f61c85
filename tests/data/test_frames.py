"""Side-by-side frames and id positions: what pandas' join and get_indexer give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnml.data import positions, side_by_side


def _ids(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.array([f"c{i}" for i in rng.permutation(n)], dtype=object)


@pytest.mark.parametrize("same_object", [True, False])
def test_side_by_side_is_the_left_join_on_matching_rows(same_object):
    ids = _ids(500)
    index = pd.Index(ids, name="customer_id", dtype="str")
    left = pd.DataFrame({"a": np.arange(500.0)}, index=index)
    other_index = index if same_object else pd.Index(list(ids), dtype="str")
    b = pd.DataFrame({"b": np.arange(500) * 2, "c": list("xy") * 250}, index=other_index)
    c = pd.DataFrame({"d": np.ones(500)}, index=other_index)
    out = side_by_side(left, b, c)
    pd.testing.assert_frame_equal(out, left.join(b).join(c))
    assert out.index is index  # left's rows, name and order kept


def test_side_by_side_joins_frames_in_another_order_or_with_other_rows():
    ids = _ids(300)
    left = pd.DataFrame({"a": np.arange(300.0)}, index=pd.Index(ids, dtype="str"))
    shuffled = pd.DataFrame({"b": np.arange(300.0)}, index=pd.Index(ids[::-1], dtype="str"))
    fewer = pd.DataFrame({"c": np.arange(100.0)}, index=pd.Index(ids[50:150], dtype="str"))
    out = side_by_side(left, shuffled, fewer)
    pd.testing.assert_frame_equal(out, left.join(shuffled).join(fewer))
    assert out["c"].isna().sum() == 200
    assert (out["b"].to_numpy() == 299 - np.arange(300)).all()


@pytest.mark.parametrize("as_index", [True, False])
def test_positions_equal_get_indexer(as_index):
    ids = _ids(2000, seed=1)
    index = pd.Index(ids, name="customer_id", dtype="str")
    wanted = np.concatenate([ids[::7], np.array(["nobody", "c", "é-1"], dtype=object)])
    asked = pd.Index(wanted, dtype="str") if as_index else wanted
    got = positions(index, asked)
    assert got.dtype == np.int64
    assert np.array_equal(got, index.get_indexer(wanted))
    assert (got[-3:] == -1).all() and (got[:-3] >= 0).all()
    # an index of Python strings (object dtype) gives the same
    assert np.array_equal(positions(pd.Index(ids, dtype=object), asked), got)


def test_side_by_side_keeps_joins_answer_for_overlapping_columns():
    unique = pd.DataFrame({"x": [1, 2]}, index=pd.Index(["a", "b"], dtype="str"))
    with pytest.raises(ValueError, match="overlap"):
        side_by_side(unique, unique)


def test_positions_of_other_ids_are_pandas_answers():
    index = pd.Index(["1", "2", "3"], dtype="str")
    assert np.array_equal(positions(index, np.array([1, 2])), index.get_indexer([1, 2]))
    assert np.array_equal(positions(index, np.array(["3", None], dtype=object)), [2, -1])
    numbers = pd.Index([10, 20, 30])
    assert np.array_equal(positions(numbers, np.array([30, 5])), [2, -1])
    boxed = pd.Index([10, 20, 30], dtype=object)  # numbers held as Python objects
    assert np.array_equal(positions(boxed, np.array([30, 5], dtype=object)), [2, -1])
    texts = np.array(["30", "5"], dtype=object)  # the number 30 is not the text "30"
    assert np.array_equal(positions(boxed, texts), boxed.get_indexer(texts))
    assert positions(index, np.array([], dtype=object)).size == 0
