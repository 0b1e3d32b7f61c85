from __future__ import annotations

import pandas as pd

from churnml.features.snapshots import plan_snapshots

FIRST = pd.Timestamp("2020-01-01")


def test_label_windows_never_pass_as_of():
    as_of = pd.Timestamp("2021-06-30")
    plan = plan_snapshots(FIRST, as_of, 90, step_days=30, max_snapshots=6)
    assert plan is not None and plan.note is None and plan.scale == 1.0
    assert plan.dates[0] == as_of - pd.Timedelta(days=90)
    assert all(d + pd.Timedelta(days=plan.label_days) <= as_of for d in plan.dates)
    assert plan.dates == sorted(plan.dates, reverse=True) and len(plan.dates) == 6
    assert all((d - FIRST).days >= 60 for d in plan.dates)


def test_short_history_shortens_and_rescales():
    # CDNOW-like: 272 days of history, 273-day horizon
    plan = plan_snapshots(FIRST, FIRST + pd.Timedelta(days=272), 273)
    assert plan is not None and plan.label_days == 272 - 60
    assert plan.scale == 273 / 212 and "rescaled to 273 days" in plan.note
    assert plan.dates[0] + pd.Timedelta(days=plan.label_days) == FIRST + pd.Timedelta(days=272)


def test_no_room_at_all():
    assert plan_snapshots(FIRST, FIRST + pd.Timedelta(days=80), 90) is None
