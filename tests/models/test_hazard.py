"""HazardTiming: a known hazard recovered, person-period rows, leakage, the cdf, persistence,
a season learnt from the calendar."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from churnml.exceptions import ConfigError, NotFittedError
from churnml.features import build_features, build_labels
from churnml.models.hazard import HAZARD_FILE, HazardTiming, person_periods
from churnml.models.timing import TIMING_COLUMNS

START = pd.Timestamp("2020-01-06")
#: Age columns the scoring date has never seen in training (GBMScorer leaves them out too).
AGE = ["T", "tenure_days", "recency"]
WEEKLY_HAZARD = 0.1
LABEL_DAYS = 84  # 12 weeks
SNAPSHOTS = [START + pd.Timedelta(days=d) for d in (150, 180, 210)]
AS_OF = START + pd.Timedelta(days=300)


def simulate(n: int, p_day: np.ndarray, start: pd.Timestamp, seed: int) -> pd.DataFrame:
    """Each customer buys on day 0, then on each day t with probability p_day[t]."""
    rng = np.random.default_rng(seed)
    buys = rng.random((n, p_day.size)) < p_day[None, :]
    buys[:, 0] = True  # everyone is a customer from the first day
    who, day = np.nonzero(buys)
    return pd.DataFrame(
        {
            "customer_id": np.array([f"c{i:05d}" for i in range(n)], dtype=object)[who],
            "date": start + pd.to_timedelta(day, unit="D"),
            "amount": 10.0 + rng.random(who.size),
        }
    )


def tables(lines: pd.DataFrame, dates: list[pd.Timestamp]) -> list[pd.DataFrame]:
    return [build_features(lines, d).drop(columns=AGE) for d in dates]


# A day's chance that makes the weekly chance WEEKLY_HAZARD: the first purchase after any date
# is then geometric, P(within 7k days) = 1 - (1 - h)^k exactly, whatever the customer did before.
P_DAY = 1.0 - (1.0 - WEEKLY_HAZARD) ** (1.0 / 7.0)


@pytest.fixture(scope="module")
def constant_log() -> pd.DataFrame:
    return simulate(3000, np.full(400, P_DAY), START, seed=0)


@pytest.fixture(scope="module")
def constant_model(constant_log) -> HazardTiming:
    return HazardTiming(n_jobs=1).fit(
        tables(constant_log, SNAPSHOTS), SNAPSHOTS, constant_log, LABEL_DAYS
    )


# -- (a) a known hazard ------------------------------------------------------------------------
def test_recovers_a_constant_weekly_hazard(constant_model, constant_log):
    """The truth is the simulation's, not the model's: F(7k) = 1 - (1 - h)^k, also for the
    weeks past the 12 trained (extrapolated with the last period's hazard)."""
    k = np.arange(27)
    cdf = constant_model.cdf(build_features(constant_log, AS_OF).drop(columns=AGE), AS_OF, 7 * k)
    truth = 1.0 - (1.0 - WEEKLY_HAZARD) ** k
    assert np.abs(cdf.mean(axis=0) - truth).max() < 0.02
    assert np.quantile(np.abs(cdf - truth), 0.95) < 0.05  # every customer, not just the mean


def test_timing_columns_match_the_geometric_truth(constant_model, constant_log):
    table = build_features(constant_log, AS_OF).drop(columns=AGE)
    out = constant_model.predict(table, AS_OF, LABEL_DAYS)
    d = np.arange(1, LABEL_DAYS + 1)
    pmf = (1.0 - P_DAY) ** (d - 1) * P_DAY
    expected_day = float((d * pmf).sum() / pmf.sum())  # E[D | D <= H]
    assert abs(out["expected_days_to_next_purchase"].mean() - expected_day) < 1.5
    for t in (7, 30, 90):
        assert abs(out[f"p_buy_{t}d"].mean() - (1.0 - (1.0 - P_DAY) ** t)) < 0.02
    assert abs(out["p_repurchase"].mean() - (1.0 - (1.0 - P_DAY) ** LABEL_DAYS)) < 0.02


def test_subsampled_rows_are_weighted_back(constant_log):
    """Rows without a purchase sampled at ~30 % and weighted by 1/rate leave the hazard right."""
    model = HazardTiming(max_rows=30_000, n_jobs=1).fit(
        tables(constant_log, SNAPSHOTS), SNAPSHOTS, constant_log, LABEL_DAYS
    )
    diag = model.diagnostics_
    assert diag["rows_expanded"] > 30_000 and 0.2 < diag["non_event_sample_rate"] < 0.5
    assert "sampled at rate" in " ".join(diag["notes"])
    assert abs(diag["rows_used"] - 30_000) < 1_000
    cdf = model.cdf(build_features(constant_log, AS_OF).drop(columns=AGE), AS_OF, [28, 84])
    assert np.abs(cdf.mean(axis=0) - (1 - (1 - WEEKLY_HAZARD) ** np.array([4, 12]))).max() < 0.03


# -- (b) person-period rows --------------------------------------------------------------------
def test_person_periods_by_hand():
    who, period, event = person_periods(np.array([1, 7, 8, 15, np.nan, 29]), 4, 7)
    rows = list(zip(who.tolist(), period.tolist(), event.tolist(), strict=True))
    assert rows == [
        (0, 0, True),  # day 1: period 0
        (1, 0, True),  # day 7: still period 0
        (2, 0, False),
        (2, 1, True),  # day 8: period 1
        (3, 0, False),
        (3, 1, False),
        (3, 2, True),
        *[(4, k, False) for k in range(4)],  # no purchase: censored after 4 periods
        *[(5, k, False) for k in range(4)],  # day 29 is after the 28 trained days
    ]


def test_rows_follow_the_purchase_definition():
    """A purchase is a customer-day with positive net amount, as in build_labels."""
    s = pd.Timestamp("2021-03-31")

    def day(n: int) -> pd.Timestamp:
        return s + pd.Timedelta(days=n)

    lines = pd.DataFrame(
        [
            ("A", day(-10), 5.0),
            ("A", day(1), 5.0),  # the day after s: period 0
            ("B", day(-10), 5.0),
            ("B", day(15), 5.0),  # day 15: period 2
            ("C", day(-10), 5.0),  # never again
            ("D", day(-10), 5.0),
            ("D", day(3), -5.0),  # a return is not a purchase
            ("D", day(20), 5.0),  # day 20: period 2
            ("E", day(-10), 5.0),
            ("E", day(2), 10.0),
            ("E", day(2), -10.0),  # nets to zero on the day: no purchase
            ("F", day(-10), 5.0),
            ("F", day(30), 5.0),  # inside the 30-day labels, after the 4 whole weeks: censored
        ],
        columns=["customer_id", "date", "amount"],
    )
    table = build_features(lines, s)
    rows = HazardTiming(calendar=True).training_rows([table], [s], lines, 30)
    per = rows.groupby("customer_id").agg(n=("period", "size"), events=("event", "sum"))
    assert per.to_dict("index") == {
        "A": {"n": 1, "events": 1},
        "B": {"n": 3, "events": 1},
        "C": {"n": 4, "events": 0},
        "D": {"n": 3, "events": 1},
        "E": {"n": 4, "events": 0},
        "F": {"n": 4, "events": 0},
    }
    # the calendar feature is the day of the year each period starts on (s + 1 + 7k)
    starts = s + pd.Timedelta(days=1) + pd.to_timedelta(7 * rows["period"], unit="D")
    assert (rows["period_day_of_year"].to_numpy() == starts.dt.day_of_year.to_numpy()).all()
    assert (rows["weight"] == 1.0).all()


def test_events_once_for_buyers_and_k_rows_for_the_rest(constant_log):
    model = HazardTiming()
    rows = model.training_rows(tables(constant_log, SNAPSHOTS), SNAPSHOTS, constant_log, 84)
    k = 12
    for snap in SNAPSHOTS:
        labels = build_labels(constant_log, snap, 84)  # independent of the expansion
        days = labels["days_to_next"]
        mine = rows[rows["snapshot"] == snap].groupby("customer_id")
        events = mine["event"].sum().reindex(labels.index)
        n_rows = mine["period"].size().reindex(labels.index)
        last_is_event = mine["event"].last().reindex(labels.index)
        buyer = days <= 7 * k
        assert buyer.sum() > 100 and (~buyer).sum() > 100
        assert (events[buyer] == 1).all() and last_is_event[buyer].all()
        assert (n_rows[buyer] == np.ceil(days[buyer] / 7)).all()
        assert (events[~buyer] == 0).all() and (n_rows[~buyer] == k).all()


def test_lines_after_the_label_windows_are_never_read(constant_log, constant_model):
    last_end = max(SNAPSHOTS) + pd.Timedelta(days=LABEL_DAYS)
    changed = constant_log.copy()
    after = changed["date"] > last_end
    changed.loc[after, "amount"] = -1e6  # every later day a return
    changed = changed.drop(index=changed.index[after.to_numpy()][::2])
    kw = {"data_end": constant_log["date"].max()}
    before = HazardTiming().training_rows(
        tables(constant_log, SNAPSHOTS), SNAPSHOTS, constant_log, LABEL_DAYS, **kw
    )
    again = HazardTiming().training_rows(
        tables(changed, SNAPSHOTS), SNAPSHOTS, changed, LABEL_DAYS, **kw
    )
    pd.testing.assert_frame_equal(before, again)
    refit = HazardTiming(n_jobs=1).fit(tables(changed, SNAPSHOTS), SNAPSHOTS, changed, LABEL_DAYS)
    assert refit.booster_.model_to_string() == constant_model.booster_.model_to_string()


def test_predictions_ignore_lines_after_as_of(constant_log, constant_model):
    changed = constant_log.copy()
    after = changed["date"] > AS_OF
    changed.loc[after, "amount"] = 1e6
    changed = changed.drop(index=changed.index[after.to_numpy()][::3])
    original = constant_model.predict(
        build_features(constant_log, AS_OF).drop(columns=AGE), AS_OF, 90
    )
    again = constant_model.predict(build_features(changed, AS_OF).drop(columns=AGE), AS_OF, 90)
    pd.testing.assert_frame_equal(original, again)


# -- (c) the cdf -------------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["constant", pytest.param("season", marks=pytest.mark.slow)])
def test_cdf_is_a_distribution_function(which, request):
    model, lines, as_of = {
        "constant": lambda: (
            request.getfixturevalue("constant_model"),
            request.getfixturevalue("constant_log"),
            AS_OF,
        ),
        "season": lambda: (
            request.getfixturevalue("season_model"),
            request.getfixturevalue("season_log"),
            SEASON_AS_OF,
        ),
    }[which]()
    table = build_features(lines[lines["date"] <= as_of], as_of).drop(columns=AGE)
    days = np.arange(0, 301)  # far past the trained periods
    cdf = model.cdf(table, as_of, days)
    assert cdf.shape == (len(table), days.size)
    assert (cdf[:, 0] == 0).all()
    assert (cdf >= 0).all() and (cdf <= 1).all()
    assert (np.diff(cdf, axis=1) >= -1e-12).all()
    shuffled = np.random.default_rng(0).permutation(days)
    np.testing.assert_allclose(model.cdf(table, as_of, shuffled), cdf[:, shuffled])
    # linear within a period
    np.testing.assert_allclose(model.cdf(table, as_of, [3.5])[:, 0], cdf[:, 7] / 2)

    out = model.predict(table, as_of, 120)
    assert list(out.columns) == ["p_repurchase", *TIMING_COLUMNS]
    assert out.index.equals(table.index)
    assert np.isfinite(out.to_numpy()).all()
    np.testing.assert_allclose(out["p_repurchase"], cdf[:, 120])
    assert (out["p_buy_7d"] <= out["p_buy_30d"] + 1e-12).all()
    assert (out["p_buy_30d"] <= out["p_buy_90d"] + 1e-12).all()
    q = out[["days_to_next_purchase_p10", "median_days_to_next_purchase"]]
    assert (q.iloc[:, 0] <= q.iloc[:, 1]).all()
    assert (out["median_days_to_next_purchase"] <= out["days_to_next_purchase_p90"]).all()
    assert out["days_to_next_purchase_p90"].between(1, 120).all()


@pytest.mark.slow
def test_level_can_be_taken_from_elsewhere(season_model, season_log):
    table = build_features(season_log[season_log["date"] <= SEASON_AS_OF], SEASON_AS_OF)
    table = table.drop(columns=AGE)
    own = season_model.predict(table, SEASON_AS_OF, 90)
    target = 0.8 * float(own["p_repurchase"].sum())
    anchored = season_model.predict(table, SEASON_AS_OF, 90, expected_buyers=target)
    assert anchored["p_repurchase"].sum() == pytest.approx(target, rel=1e-6)
    # one logit shift for every period keeps the order, except between customers whose hazards
    # have different shapes over time, which it can swap by a hair
    order = np.argsort(own["p_repurchase"].to_numpy(), kind="stable")
    assert np.diff(anchored["p_repurchase"].to_numpy()[order]).min() > -0.005
    assert spearmanr(own["p_repurchase"], anchored["p_repurchase"]).statistic > 0.999
    assert (anchored["p_repurchase"] < own["p_repurchase"]).all()
    with pytest.raises(ConfigError, match="expected_buyers"):
        season_model.predict(table, SEASON_AS_OF, 90, expected_buyers=len(table) + 1.0)


# -- (d) persistence ---------------------------------------------------------------------------
def test_state_round_trip_predicts_identically(constant_model, constant_log, tmp_path):
    table = build_features(constant_log, AS_OF).drop(columns=AGE)
    expected = constant_model.predict(table, AS_OF, 90)

    inline = json.loads(json.dumps(constant_model.to_state()))
    loaded = HazardTiming.from_state(inline)
    pd.testing.assert_frame_equal(loaded.predict(table, AS_OF, 90), expected)
    assert loaded.get_params() == constant_model.get_params()
    assert loaded.diagnostics_ == json.loads(json.dumps(constant_model.diagnostics_))

    state = json.loads(json.dumps(constant_model.to_state(tmp_path)))
    assert "booster" not in state and (tmp_path / HAZARD_FILE).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [HAZARD_FILE]  # nothing pickled
    from_files = HazardTiming.from_state(state, tmp_path)
    pd.testing.assert_frame_equal(from_files.predict(table, AS_OF, 90), expected)

    with pytest.raises(ConfigError, match="folder"):
        HazardTiming.from_state(state)
    with pytest.raises(ConfigError, match="folder"):
        HazardTiming.from_state({**state, "booster_file": "../elsewhere.lgb.txt"}, tmp_path)


# -- (e) a season ------------------------------------------------------------------------------
SEASON_START = pd.Timestamp("2019-01-01")
SEASON_AS_OF = pd.Timestamp("2021-04-30")  # day 120 of the year
SEASON_ON = ((60, 150), (240, 330))  # days of the year customers buy on (hazard 0.2 a week)


def _season_days(n_days: int) -> np.ndarray:
    doy = (SEASON_START + pd.to_timedelta(np.arange(n_days), unit="D")).day_of_year.to_numpy()
    return np.any([(doy >= a) & (doy < b) for a, b in SEASON_ON], axis=0)


@pytest.fixture(scope="module")
def season_log() -> pd.DataFrame:
    on = _season_days(3 * 365)
    return simulate(1000, np.where(on, 1 - 0.8 ** (1 / 7), 0.0), SEASON_START, seed=3)


@pytest.fixture(scope="module")
def season_model(season_log) -> HazardTiming:
    # 14 monthly snapshots with 13-week labels: the periods start in every week of a year
    end = pd.Timestamp("2021-10-31")
    dates = [end - pd.Timedelta(days=91 + 28 * j) for j in range(14)]
    model = HazardTiming(n_estimators=100, learning_rate=0.1, n_jobs=1)
    return model.fit(tables(season_log, dates), dates, season_log, 91)


@pytest.mark.slow
def test_hazard_learns_the_season_from_the_calendar(season_model, season_log):
    assert season_model.calendar_ and season_model.diagnostics_["calendar_weeks_covered"] == 52
    table = build_features(season_log[season_log["date"] <= SEASON_AS_OF], SEASON_AS_OF)
    hazard = season_model.hazard(table.drop(columns=AGE), SEASON_AS_OF, 13).mean(axis=0)
    starts = SEASON_AS_OF + pd.Timedelta(days=1) + pd.to_timedelta(7 * np.arange(13), unit="D")
    first, last = starts.day_of_year, starts.day_of_year + 6
    inside = (first >= 60) & (last < 150)  # weeks wholly in the season
    outside = (first >= 150) & (last < 240)  # weeks wholly out of it
    assert inside.sum() >= 3 and outside.sum() >= 6
    assert hazard[inside].min() > 0.15  # truth 0.2
    assert hazard[outside].max() < 0.03  # truth 0


def test_calendar_auto_stays_off_without_a_year_of_periods(constant_model):
    assert not constant_model.calendar_
    assert "calendar off" in " ".join(constant_model.diagnostics_["notes"])
    assert "period_day_of_year" not in constant_model.booster_.feature_name()


# -- errors ------------------------------------------------------------------------------------
def test_use_before_fit_and_bad_inputs(constant_log):
    table = build_features(constant_log, SNAPSHOTS[0]).drop(columns=AGE)
    with pytest.raises(NotFittedError):
        HazardTiming().predict(table, AS_OF, 90)
    with pytest.raises(ConfigError, match="period_days"):
        HazardTiming(period_days=0).fit([table], SNAPSHOTS[:1], constant_log, 84)
    with pytest.raises(ConfigError, match="at least one period"):
        HazardTiming(period_days=30).fit([table], SNAPSHOTS[:1], constant_log, 20)
    with pytest.raises(ConfigError, match="one feature table per snapshot"):
        HazardTiming().fit([table], SNAPSHOTS[:2], constant_log, 84)
    with pytest.raises(ConfigError, match="calendar"):
        HazardTiming(calendar="yes").fit([table], SNAPSHOTS[:1], constant_log, 84)
    with pytest.raises(ConfigError, match="period"):
        HazardTiming().fit([table.assign(period=1)], SNAPSHOTS[:1], constant_log, 84)


def test_a_longer_horizon_extends_the_last_hazard(constant_model, constant_log):
    table = build_features(constant_log, AS_OF).drop(columns=AGE)
    short = constant_model.predict(table, AS_OF, 84)
    long = constant_model.predict(table, AS_OF, 365)
    assert (long["p_repurchase"] >= short["p_repurchase"]).all()
    assert abs(long["p_repurchase"].mean() - (1 - (1 - P_DAY) ** 365)) < 0.02
