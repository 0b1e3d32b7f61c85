"""score_with: every customer with a line up to as-of gets one row, bought or not yet."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import hyp2f1

import churnml
from churnml.data import load_transactions, simulate_transactions
from churnml.models import GBMScorer, LevelAdjusted
from churnml.models.bundle import save_bundle
from churnml.models.pipeline import BTYDScorer, RateBaselineScorer
from churnml.scoring import CONTRACT_COLUMNS, NO_PURCHASE_NOTE, unscored_customers
from churnml.settings import RunSettings
from churnml.store import ScoreStore

AS_OF = pd.Timestamp("1998-06-30")
#: Customers whose lines up to as-of hold no purchase: returns only, or a day netting to zero.
NO_PURCHASE = pd.DataFrame(
    {
        "customer_id": ["R1", "R2", "R2", "R3", "R3"],
        "date": pd.to_datetime(
            ["1997-05-10", "1998-06-20", "1998-06-20", "1997-02-01", "1997-08-01"]
        ),
        "amount": [-15.0, 20.0, -20.0, -5.0, -7.0],
        "quantity": 1,
    }
)
#: Days from each one's first line to as-of, and from their last line.
AGE = {"R1": 416, "R2": 10, "R3": 514}
SINCE_LAST = {"R1": 416, "R2": 10, "R3": 333}


@pytest.fixture(scope="module")
def tx(cdnow):
    return load_transactions(pd.concat([cdnow, NO_PURCHASE], ignore_index=True))


@pytest.fixture(scope="module")
def bgnbd(tx):
    return BTYDScorer(penalizer=0.001).fit(tx, AS_OF)


def _seen(tx, as_of):
    """Customers with a line up to as-of, or only zero-amount rows (no purchase, seen)."""
    lines, zero = tx.lines, tx.zero_only
    return set(lines.loc[lines["date"] <= as_of, "customer_id"]) | set(
        zero.loc[zero["date"] <= as_of, "customer_id"]
    )


def _check_rows(scores, tx, as_of):
    assert scores["customer_id"].is_unique
    assert set(scores["customer_id"]) == _seen(tx, as_of)
    numbers = scores[list(CONTRACT_COLUMNS[1:7])].to_numpy(float)
    assert np.isfinite(numbers).all()
    assert scores[["segment", "value_tier", "next_purchase_date"]].notna().all().all()
    rows = scores.set_index("customer_id")
    none = rows.loc[list(AGE)]
    zero_only = tx.zero_only.loc[tx.zero_only["date"] <= as_of, "customer_id"].nunique()
    assert (none["note"] == NO_PURCHASE_NOTE).all()
    assert rows["note"].notna().sum() == 3 + zero_only
    assert (none["n_purchases"] == 0).all()
    assert (
        none[["last_purchase_date", "days_since_last_purchase", "reminder_date"]].isna().all().all()
    )
    # segments by days since the last line: R2's net-zero day was 10 days before as-of
    assert none["segment"].tolist() == ["lost", "new", "low_recall"]
    return none


def test_bgnbd_scores_customers_yet_to_buy_at_frequency_zero(tx, bgnbd):
    scores = churnml.score_with(bgnbd, tx, AS_OF, 90, "v")
    none = _check_rows(scores, tx, AS_OF)
    # BG/NBD (Fader, Hardie & Lee 2005, eq. 10) at x = t_x = 0: alive for sure, and
    r, alpha, a, b = (bgnbd.transaction_.params_[k] for k in ("r", "alpha", "a", "b"))
    T = np.array([AGE[c] for c in none.index], dtype=float)
    ratio = (alpha + T) / (alpha + T + 90)
    expected = (
        (a + b - 1) / (a - 1) * (1 - ratio**r * hyp2f1(r, b, a + b - 1, 90 / (alpha + T + 90)))
    )
    p, q, v = (bgnbd.spend_.params_[k] for k in ("p", "q", "v"))
    np.testing.assert_allclose(none["p_alive"], 1.0)
    np.testing.assert_allclose(none["p_repurchase"], 1 - ratio**r, rtol=1e-9)
    np.testing.assert_allclose(none["expected_purchases"], expected, rtol=1e-9)
    # their spend per purchase is the population mean of Gamma-Gamma
    np.testing.assert_allclose(none["expected_revenue"], expected * p * v / (q - 1), rtol=1e-9)
    assert (none["clv"] > none["expected_revenue"]).all()  # a year's worth against 90 days


def test_the_baseline_gives_customers_yet_to_buy_no_purchase(tx):
    scorer = RateBaselineScorer().fit(tx, AS_OF)
    scores = churnml.score_with(scorer, tx, AS_OF, 60, "v")
    none = _check_rows(scores, tx, AS_OF)
    zero = ["p_repurchase", "expected_purchases", "expected_revenue", "clv", "p_buy_30d"]
    assert (none[zero] == 0).all().all() and (none["p_alive"] == 1).all()
    assert (none["expected_days_to_next_purchase"] == 60).all()
    assert (none["value_tier"] == "bronze").all()


def test_weekly_models_count_weeks_from_the_first_line(tx):
    scorer = BTYDScorer(penalizer=0.001, freq="W").fit(tx, AS_OF)
    scores = churnml.score_with(scorer, tx, AS_OF, 90, "v")
    none = _check_rows(scores, tx, AS_OF)
    # T in weeks from each first line's Monday to as-of (as btyd_summary's weekly T)
    mondays = {"R1": "1997-05-05", "R2": "1998-06-15", "R3": "1997-01-27"}
    T = [(AS_OF - pd.Timestamp(mondays[c])).days / 7 for c in none.index]
    summary = pd.DataFrame({"frequency": 0.0, "recency": 0.0, "T": T}, index=none.index)
    reference = scorer.transaction_.p_repurchase(summary, 90 / 7)
    np.testing.assert_allclose(none["p_repurchase"], reference, rtol=1e-12)


def test_a_table_without_them_is_the_former_one(tx, bgnbd):
    scores = churnml.score_with(bgnbd, tx, AS_OF, 90, "v")
    without = churnml.score_with(bgnbd, tx, AS_OF, 90, "v", include_no_purchase=False)
    # the three above and the 68 CDNOW customers with only zero-amount rows
    assert unscored_customers(tx, AS_OF, without) == 3 + 68
    assert unscored_customers(tx, AS_OF, scores) == 0
    assert without["note"].isna().all()
    # the purchasers' rows do not change, tiers aside (71 more customers are ranked)
    kept = scores[scores["note"].isna()].reset_index(drop=True)
    same = [c for c in without.columns if c not in ("value_tier", "days_since_last_purchase")]
    pd.testing.assert_frame_equal(kept[same], without[same])
    assert (
        kept["days_since_last_purchase"].to_numpy(int) == without["days_since_last_purchase"]
    ).all()


def test_score_result_and_the_score_store_keep_every_customer(tx, bgnbd, tmp_path):
    settings = RunSettings(as_of=AS_OF, horizon_days=90, families=("bgnbd",))
    folder = save_bundle(
        bgnbd, {"family": "bgnbd", "settings": settings.to_dict()}, tmp_path / "model"
    )
    result = churnml.score(tx, AS_OF, model=str(folder))
    _check_rows(result.scores, tx, AS_OF)
    assert result.n_unscored == 0
    assert result.n_yet_to_buy == 3 + 68  # the three above and CDNOW's zero-amount-only 68
    store = ScoreStore(f"sqlite:///{(tmp_path / 'scores.db').as_posix()}")
    try:
        snapshot = churnml.publish_scores(result, store=store)
        assert snapshot.n_rows == len(result.scores)
        row = store.lookup(snapshot.id, "R2")
        assert row["note"] == NO_PURCHASE_NOTE and row["n_purchases"] == 0
    finally:
        store.dispose()


def test_lightgbm_scores_them_with_the_bgnbd_it_wraps():
    frame, _ = simulate_transactions(800, seed=7, observation_days=500)
    as_of = frame["date"].max().normalize()
    extra = NO_PURCHASE.assign(date=as_of - pd.to_timedelta([100, 5, 5, 300, 200], unit="D"))
    tx = load_transactions(pd.concat([frame, extra], ignore_index=True))
    scorer = GBMScorer(n_estimators=20, max_snapshots=2, explain=False).fit(tx, as_of, 60)
    scores = churnml.score_with(scorer, tx, as_of, 60, "v")
    assert set(scores["customer_id"]) == _seen(tx, as_of) and scores["customer_id"].is_unique
    none = scores.set_index("customer_id").loc[list(AGE)]
    assert (none["note"] == NO_PURCHASE_NOTE).all()
    reference = scorer.btyd_.predict_summary(
        pd.DataFrame(
            {"frequency": 0.0, "recency": 0.0, "T": [100.0, 5.0, 300.0], "monetary_value": 0.0},
            index=none.index,
        ),
        as_of,
        60,
    )
    np.testing.assert_allclose(none["p_repurchase"], reference["p_repurchase"], rtol=1e-12)
    np.testing.assert_allclose(none["clv"], reference["clv"], rtol=1e-12)


def test_every_customer_in_the_raw_cdnow_log_gets_a_row(cdnow, cdnow_tx):
    """Validation excludes zero-amount rows (no purchase), but the 68 CDNOW customers with
    nothing else were seen: they get a row, as customers yet to buy."""
    assert cdnow_tx.zero_only["customer_id"].nunique() == 68
    scorer = RateBaselineScorer().fit(cdnow_tx, AS_OF)
    scores = churnml.score_with(scorer, cdnow_tx, AS_OF, 90, "v")
    assert set(scores["customer_id"]) == set(cdnow["customer_id"])
    assert scores["customer_id"].is_unique
    zero = scores.set_index("customer_id").loc[cdnow_tx.zero_only["customer_id"].unique()]
    assert (zero["note"] == NO_PURCHASE_NOTE).all() and (zero["n_purchases"] == 0).all()
    assert unscored_customers(cdnow_tx, AS_OF, scores) == 0


def test_a_level_adjusted_model_rescales_customers_yet_to_buy_too(tx):
    factors = {"buyers": 0.7, "purchases": 0.8, "revenue": 0.6, "clv": 0.9}
    level = LevelAdjusted(family="bgnbd", factors=factors).fit(tx, AS_OF, 90)
    adjusted = churnml.score_with(level, tx, AS_OF, 90, "v").set_index("customer_id")
    inner = churnml.score_with(level.inner_, tx, AS_OF, 90, "v").set_index("customer_id")
    mine, theirs = adjusted.loc[list(AGE)], inner.loc[list(AGE)]
    # one fixed logit shift, as for everyone else, and the factors on the expectations
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    shift = logit(mine["p_repurchase"]) - logit(theirs["p_repurchase"])
    np.testing.assert_allclose(shift, level.shift_, rtol=1e-6)
    assert level.shift_ < 0
    ratio = mine["expected_revenue"] / theirs["expected_revenue"]
    np.testing.assert_allclose(ratio, factors["revenue"], rtol=1e-9)
    np.testing.assert_allclose(mine["clv"] / theirs["clv"], factors["clv"], rtol=1e-9)
    # a customer with purchases is rescaled the same way
    bought = adjusted.index.difference(list(AGE))[:50]
    again = logit(adjusted.loc[bought, "p_repurchase"]) - logit(inner.loc[bought, "p_repurchase"])
    np.testing.assert_allclose(again, level.shift_, rtol=1e-6)
