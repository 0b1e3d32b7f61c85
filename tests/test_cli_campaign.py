"""The campaign commands through the CLI: recall (ROI, peak, curve), remind, breakeven."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

import churnml
from churnml.cli import app

runner = CliRunner()

# customer, segment, tier, p_alive, p_repurchase, expected_revenue, expected_purchases, clv
ROWS = [
    ("a", "warm", "gold", 0.9, 0.2, 60.0, 2.0, 10.0),
    ("b", "high_recall", "silver", 0.5, 0.1, 40.0, 1.0, 30.0),
    ("c", "low_recall", "bronze", 0.3, 0.05, 10.0, 0.5, 29.99),
    ("d", "warm", "gold", 0.8, 0.8, 600.0, 4.0, 100.0),
    ("e", "active", "gold", 0.95, 0.3, 100.0, 2.0, 45.0),
    ("f", "high_recall", "bronze", 0.6, 0.4, 12.0, 3.0, 0.0),
]
COLUMNS = [
    "customer_id",
    "segment",
    "value_tier",
    "p_alive",
    "p_repurchase",
    "expected_revenue",
    "expected_purchases",
    "clv",
]
UPLIFT, MARGIN, COST = 0.1, 0.5, 0.5


def _by_hand() -> list[tuple[str, float]]:
    """(customer, expected profit) of the recall candidates, best first, from the formula."""
    out = []
    for cid, segment, _, p_alive, p_rep, revenue, purchases, _ in ROWS:
        if segment in ("warm", "high_recall", "low_recall") and p_rep < 0.7:
            p_won_back = UPLIFT * p_alive * (1 - p_rep)
            out.append((cid, p_won_back * MARGIN * (revenue / purchases) - COST))
    return sorted(out, key=lambda x: -x[1])


@pytest.fixture
def scores_csv(tmp_path):
    path = tmp_path / "scores.csv"
    pd.DataFrame(ROWS, columns=COLUMNS).to_csv(path, index=False)
    return path


def _recall(scores_csv, tmp_path, budget, *extra):
    out = tmp_path / "out" / "recall.csv"
    args = ["recall", "--scores", str(scores_csv), "--budget", str(budget)]
    args += ["--cost-per-contact", str(COST), "--uplift", str(UPLIFT), "--margin", str(MARGIN)]
    result = runner.invoke(app, [*args, "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return result, pd.read_csv(out, dtype={"customer_id": str})


def test_recall_prints_the_roi_and_the_peak_and_writes_the_curve(scores_csv, tmp_path):
    hand = _by_hand()
    # a .58, b .40, c -.215, f -.428
    assert [c for c, _ in hand] == ["a", "b", "c", "f"]
    curve_path = tmp_path / "curves" / "curve.csv"
    result, ranked = _recall(scores_csv, tmp_path, 1.5, "--curve", str(curve_path))
    assert ranked["customer_id"].tolist() == ["a", "b", "c"]
    assert ranked["expected_profit"].tolist() == pytest.approx([p for _, p in hand[:3]])
    text = " ".join(result.output.split())
    profit = sum(p for _, p in hand[:3])  # .765
    roi = profit / (3 * COST)  # .51
    assert "3 customers to contact (warm, high_recall, low_recall), total cost 1.50" in text
    assert f"ROI {roi:.1%}" in text and "ROI 51.0%" in text
    assert "uplift 0.1, margin 0.5; 4 candidates" in text
    assert "Left out: 1 segment not recalled, 1 likely to buy anyway" in text
    # cumulative .58, .98, .765, .337: the peak is 2 contacts for 1.00, within the budget
    assert "peaks at 2 contacts (cost 1.00, expected profit 0.98), within the budget" in text
    assert "Profit curve" in text and "this list" in text
    curve = pd.read_csv(curve_path)
    assert list(curve.columns) == [
        "contacted",
        "cost",
        "expected_margin",
        "expected_profit",
        "within_budget",
    ]
    running = [0.0]
    for _, p in hand:
        running.append(running[-1] + p)
    assert curve["contacted"].tolist() == [0, 1, 2, 3, 4]
    assert curve["expected_profit"].tolist() == pytest.approx(running)
    assert curve["cost"].tolist() == pytest.approx([0, 0.5, 1, 1.5, 2])
    assert curve["within_budget"].tolist() == [True, True, True, True, False]


def test_recall_stop_at_peak_and_a_peak_beyond_the_budget(scores_csv, tmp_path):
    result, ranked = _recall(scores_csv, tmp_path, 100, "--stop-at-peak")
    assert ranked["customer_id"].tolist() == ["a", "b"]
    text = " ".join(result.output.split())
    # .58 + .40 = .98 for 1.00: ROI 98 %
    assert "2 customers to contact" in text and "ROI 98.0%" in text
    _, everyone = _recall(scores_csv, tmp_path, 100)
    assert everyone["customer_id"].tolist() == ["a", "b", "c", "f"]
    small, one = _recall(scores_csv, tmp_path, 0.5, "--stop-at-peak")
    assert one["customer_id"].tolist() == ["a"]
    assert "peaks at 2 contacts (cost 1.00, expected profit 0.98), beyond the budget" in " ".join(
        small.output.split()
    )
    _, likely = _recall(scores_csv, tmp_path, 100, "--include-likely-buyers")
    assert likely["customer_id"].iloc[0] == "d"  # .1 x .8 x .2 x .5 x 150 - .5 = .7


def test_recall_rejects_an_uplift_above_one(scores_csv, tmp_path):
    args = ["recall", "--scores", str(scores_csv), "--budget", "1", "--cost-per-contact", "1"]
    result = runner.invoke(app, [*args, "--uplift", "2", "--out", str(tmp_path / "r.csv")])
    assert result.exit_code == 2 and "--uplift" in result.output
    assert not (tmp_path / "r.csv").exists()


def _reminder_scores(tmp_path, with_cycles=True):
    as_of = pd.Timestamp("2024-03-01")
    due = {"p": "2024-03-01", "q": "2024-03-02", "r": "2024-03-02", "s": "2024-03-08"}
    due |= {"t": "2024-03-09", "u": "2024-02-20"}
    frame = pd.DataFrame(
        {
            "customer_id": list(due),
            "segment": ["warm"] * 6,
            "value_tier": ["gold"] * 6,
            "p_repurchase": [0.5] * 6,
            "expected_revenue": [9.0, 5.0, 50.0, 1.0, 99.0, 99.0],
            "next_purchase_date": [
                "2024-03-03",
                None,
                "2024-03-10",
                "2024-03-02",
                "2024-03-01",
                "2024-03-20",
            ],
            "n_purchases": [3] * 6,
            "last_purchase_date": [(as_of - pd.Timedelta(days=10)).date()] * 6,
            "days_since_last_purchase": [10] * 6,
            "purchase_cycle_days": [20.0] * 6,
            "reminder_date": list(due.values()),
        }
    )
    if not with_cycles:
        frame = frame.drop(columns=["last_purchase_date", "days_since_last_purchase"])
        frame = frame.drop(columns=["n_purchases", "purchase_cycle_days", "reminder_date"])
    path = tmp_path / "scores.csv"
    frame.to_csv(path, index=False)
    return path


def test_remind_lists_who_is_due(tmp_path):
    path = _reminder_scores(tmp_path)
    out = tmp_path / "out" / "remind.csv"
    result = runner.invoke(
        app, ["remind", "--scores", str(path), "--within-days", "7", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    due = pd.read_csv(out, dtype={"customer_id": str})
    # as-of 1 March (read back from the table): due in 1 to 7 days; r before q (more revenue)
    assert due["customer_id"].tolist() == ["r", "q", "s"]
    assert due["days_until_due"].tolist() == [1, 1, 7]
    text = " ".join(result.output.split())
    assert "3 customers due in the next 7 days (by cycle)" in text and "Soonest due" in text

    args = ["remind", "--scores", str(path), "--within-days", "9", "--basis", "model"]
    by_model = runner.invoke(app, [*args, "--as-of", "2024-03-01", "--out", str(out)])
    assert by_model.exit_code == 0, by_model.output
    # model dates: p 2 days, r 9, s 1, t 0, u 19
    assert pd.read_csv(out)["customer_id"].tolist() == ["s", "p", "r"]
    assert "3 customers due in the next 9 days (by model)" in " ".join(by_model.output.split())


def test_remind_tells_old_score_files_to_score_again(tmp_path):
    path = _reminder_scores(tmp_path, with_cycles=False)
    args = ["remind", "--scores", str(path), "--within-days", "7"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "r.csv")])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "reminder_date" in text and "score again" in text and "Traceback" not in text
    zero = runner.invoke(app, [*args[:-1], "0", "--out", str(tmp_path / "r.csv")])
    assert zero.exit_code == 2 and "--within-days" in zero.output


def test_breakeven(scores_csv):
    args = ["breakeven", "--acquisition-cost", "50", "--order-value", "100", "--margin", "0.2"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    # 100 x 20 % - 50 = -30; two repeats of 20 pay it back
    assert "After the first order: -30.00 per customer (100 x 20% - 50)" in text
    assert "Repeat purchases to pay it back: 2" in text
    assert "CLV covers" not in text

    with_scores = runner.invoke(app, [*args, "--scores", str(scores_csv), "--clv-margin", "0.2"])
    assert with_scores.exit_code == 0, with_scores.output
    text = " ".join(with_scores.output.split())
    # CLVs (computed at a 20 % margin) 10, 30, 29.99, 100, 45, 0 against the 30 left:
    # b, d, e cover it (3 of 6)
    assert "Customers whose CLV covers the rest: 50.0% of 6" in text
    # gold: a 10, d 100, e 45 -> 2 of 3; silver: b -> 1; bronze: c 29.99, f 0 -> 0
    assert "by tier: gold 67%, silver 100%, bronze 0%" in text
    # read as revenue (the default) the CLVs are worth a fifth as margin: the best, d at
    # 100 x 0.2 = 20, is below the 30 left
    as_revenue = runner.invoke(app, [*args, "--scores", str(scores_csv)])
    assert "Customers whose CLV covers the rest: 0.0% of 6" in " ".join(as_revenue.output.split())

    nothing = runner.invoke(app, [*args[:-1], "0"])
    assert nothing.exit_code == 0
    assert "none: a repeat purchase earns nothing" in " ".join(nothing.output.split())
    bad = runner.invoke(app, [*args[:-1], "1.5"])
    assert bad.exit_code == 2 and "--margin" in bad.output


@pytest.mark.slow
def test_report_with_scores_and_without_anything_to_score_with(tmp_path, monkeypatch):
    """`report` writes one offline page; without scores or a champion it says what to run."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlruns.db")
    log = tmp_path / "cdnow.csv"
    assert runner.invoke(app, ["sample-data", "cdnow", "--out", str(log)]).exit_code == 0
    tx = churnml.load_transactions(log)
    scorer = churnml.make_scorer("bgnbd").fit(tx, "1998-06-30", horizon_days=90)
    scores = tmp_path / "scores.csv"
    churnml.score_with(scorer, tx, "1998-06-30", 90, "cli-test").to_csv(scores, index=False)

    out = tmp_path / "full" / "report.html"
    args = ["report", "-t", str(log), "--scores", str(scores), "--out", str(out)]
    result = runner.invoke(app, [*args, "--acquisition-cost", "50", "--order-value", "100"])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    for chart in ("repeat_rate", "cohort_retention", "segments", "clv_distribution"):
        assert f'data-chart="{chart}"' in page
    assert 'data-chart="profit_curve"' in page and "<script src=" not in page
    assert "No evaluation found" in result.output  # nothing evaluated in this store yet
    assert "break-even" in page.lower()

    bare = tmp_path / "bare" / "report.html"
    result = runner.invoke(app, ["report", "-t", str(log), "--out", str(bare)])
    assert result.exit_code == 0, result.output
    assert "No scores" in result.output
    page = bare.read_text(encoding="utf-8")
    assert 'data-chart="repeat_rate"' in page and 'data-chart="profit_curve"' not in page

    half = runner.invoke(app, [*args, "--acquisition-cost", "50"])
    assert half.exit_code == 2 and "--order-value" in half.output


def test_recall_and_remind_print_odd_ids_as_text(tmp_path):
    """Ids and tiers from a user's file are text to print, not console markup."""
    rows = [
        ("[/]", "warm", "[red]gold", 0.9, 0.2, 60.0, 2.0, 10.0),
        ("[bold]x", "warm", "", 0.8, 0.1, 40.0, 1.0, 30.0),
    ]
    path = tmp_path / "scores.csv"
    frame = pd.DataFrame(rows, columns=COLUMNS).assign(next_purchase_date="2024-01-05")
    frame.to_csv(path, index=False)
    out = tmp_path / "recall.csv"
    args = ["recall", "--scores", str(path), "--budget", "1", "--cost-per-contact", "0.1"]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "[/]" in result.output and "[bold]x" in result.output and "[red]gold" in result.output
    bad_day = runner.invoke(
        app,
        [
            "remind",
            "--scores",
            str(path),
            "--within-days",
            "3",
            "--out",
            str(out),
            "--basis",
            "model",
            "--as-of",
            "garbage",
        ],
    )
    assert bad_day.exit_code == 2 and "as_of" in bad_day.output
