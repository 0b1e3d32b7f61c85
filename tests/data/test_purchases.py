"""Purchases formed from a selection of lines equal those formed from scratch."""

from __future__ import annotations

import gc

import numpy as np
import pandas as pd
import pytest

from churnml.data import purchases as purchases_module
from churnml.data import select_lines, simulate_retail_log, simulate_transactions, to_purchases
from churnml.data.purchases import column_codes


def _lines() -> pd.DataFrame:
    frame, _ = simulate_transactions(400, seed=3)
    lines = frame[["customer_id", "date", "amount"]].copy()
    # a return that nets a day to zero, and ids whose text order differs from their numbers
    extra = pd.DataFrame(
        {
            "customer_id": ["z-9", "z-9", "a-10", "a-2"],
            "date": pd.to_datetime(
                ["2020-03-02 09:00", "2020-03-02 15:00", "2020-05-01 12:00", "2020-06-01 12:00"]
            ),
            "amount": [20.0, -20.0, 5.0, 7.0],
        }
    )
    lines = pd.concat([lines, extra], ignore_index=True)
    lines["customer_id"] = lines["customer_id"].astype("str")
    return lines


@pytest.mark.parametrize("freq", ["D", "W"])
def test_selected_lines_form_the_same_purchases_as_a_copy(freq):
    lines = _lines()
    cut = lines["date"].quantile(0.4)
    for mask in (lines["date"] < cut, lines["date"] >= cut, lines["customer_id"] != "a-10"):
        selected = select_lines(lines, mask)
        fresh = lines[mask.to_numpy()].copy()  # a new frame: its ids are read again
        got, got_flags = to_purchases(selected, freq)
        want, want_flags = to_purchases(fresh, freq)
        # the parent's customers missing from the selection are not the selection's
        assert (
            len(got.customer_ids) == fresh["customer_id"].nunique() < lines["customer_id"].nunique()
        )
        np.testing.assert_array_equal(got.customer_ids, want.customer_ids)
        for field in ("cust", "day", "amount", "n_lines", "line_cust"):
            np.testing.assert_array_equal(getattr(got, field), getattr(want, field))
        np.testing.assert_array_equal(got_flags, want_flags)
        codes, uniques = pd.factorize(fresh["customer_id"], sort=True)
        np.testing.assert_array_equal(got.line_cust, codes)
        np.testing.assert_array_equal(got.customer_ids, np.asarray(uniques, dtype=object))


def test_remembered_codes_go_with_their_frame():
    lines = _lines()
    selected = select_lines(lines, lines["amount"] > 0)
    key = id(selected)
    assert key in purchases_module._CODES
    del selected
    gc.collect()
    assert key not in purchases_module._CODES


def test_a_frame_changed_in_place_is_read_again():
    lines = _lines()
    before, _ = to_purchases(lines)
    # an in-place change of the ids (same length, same object) must not reuse the old codes
    lines.loc[lines["customer_id"] == "a-10", "customer_id"] = "zz-new"
    after, _ = to_purchases(lines)
    assert "zz-new" in set(after.customer_ids) and "a-10" not in set(after.customer_ids)
    assert "a-10" in set(before.customer_ids)
    fresh, _ = to_purchases(lines.copy())
    np.testing.assert_array_equal(after.customer_ids, fresh.customer_ids)
    np.testing.assert_array_equal(after.cust, fresh.cust)
    # Python-object ids change in place without a new array: never remembered
    objects = lines.astype({"customer_id": object})
    to_purchases(objects)
    assert id(objects) not in purchases_module._CODES


def test_cuts_share_the_logs_column_codes_and_a_changed_column_is_coded_again(monkeypatch):
    lines, _ = simulate_retail_log(300, seed=3)  # text columns stored as Arrow strings
    calls = []
    real = pd.factorize
    monkeypatch.setattr(
        purchases_module.pd, "factorize", lambda v, **k: calls.append(v.name) or real(v, **k)
    )
    keep = (lines["date"] < lines["date"].quantile(0.7)).to_numpy()
    cut = select_lines(lines, keep)
    coded = calls.count("product_id")
    assert coded == 1  # the log's column, once
    inner = select_lines(cut, (cut["amount"] > 10).to_numpy())
    for frame in (cut, inner):
        codes = column_codes(frame, "product_id")
        values = frame["product_id"].to_numpy()
        # equal values, equal codes, and only those
        pairs = pd.DataFrame({"v": values, "c": codes}).drop_duplicates()
        assert pairs["v"].is_unique and pairs["c"].is_unique
    assert calls.count("product_id") == coded  # the cuts read the log's codes
    inner["product_id"] = "P-same"  # a new column array: coded again
    assert len(set(column_codes(inner, "product_id"))) == 1
    assert calls.count("product_id") == coded + 1
