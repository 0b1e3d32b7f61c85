"""The ``churnml`` command line: glue between the Python API and people.

Every command calls the same functions the Python API exposes; no logic lives here.
Errors churnml raises on purpose print as one message and exit with status 2, without a
traceback.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import ipaddress
import json
import os
import re
import shutil
import tempfile
import typing
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from churnml._version import __version__
from churnml.campaign import (
    DEFAULT_LIKELY_BUYER,
    DEFAULT_MARGIN,
    DEFAULT_UPLIFT,
    RECALL_SEGMENTS,
    RecallPlan,
    cac_breakeven,
    plan_recall,
    reminders,
)
from churnml.config import (
    API_KEYS_ENV,
    DEFAULT_MAX_CUSTOMERS,
    EXPERIMENT,
    REGISTERED_MODEL,
    SCORE_STORE_ENV,
    SNAPSHOT_KEEP_ENV,
    ColumnMap,
    ValidationPolicy,
    api_key_digests,
    tracking_uri,
)
from churnml.data import (
    FLAGS,
    REASONS,
    ValidatedTransactions,
    load_cdnow,
    load_transactions,
    simulate_retail_log,
    simulate_transactions,
)
from churnml.evaluation import CHAMPION_RULE, LEVEL_RULE, PROMOTION_RULE, Evaluation
from churnml.exceptions import ChurnmlError, ChurnmlWarning, ConfigError, DataFileError
from churnml.models.catalog import FAMILIES, MODEL_KEYS, describe_keys
from churnml.settings import ValueSettings
from churnml.store import ScoreStore
from churnml.summary import DataSummary
from churnml.summary import describe as describe_data
from churnml.workflows import (
    DEMO_MODEL,
    TrainResult,
    activate_snapshot,
    list_snapshots,
    list_versions,
    promote,
    publish_scores,
    rollback,
    run_demo,
    write_report,
)
from churnml.workflows import (
    evaluate as run_evaluation,
)
from churnml.workflows import (
    score as run_scoring,
)
from churnml.workflows import (
    train as run_training,
)

try:  # the Spark engine is an optional extra (PySpark); --engine spark says how to get it
    from churnml import spark as spark_engine
    from churnml.spark import SparkTransactions
except ImportError:
    spark_engine = None  # type: ignore[assignment]
    SparkTransactions = Any  # type: ignore[assignment,misc]

app = typer.Typer(
    name="churnml",
    help="Predict repurchase, customer lifetime value and next-purchase timing from orders.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
out = Console()
err = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(func: F) -> F:
    """Turn churnml's own errors into one red message and exit status 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ChurnmlError as exc:
            # escape: messages quote user text and lists in brackets, which rich reads as markup
            err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


@contextmanager
def model_warnings_shown_below() -> Iterator[None]:
    """Silence churnml's model warnings here: the command prints them from the diagnostics."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChurnmlWarning)
        yield


class Freq(StrEnum):
    """Purchase period."""

    D = "D"
    W = "W"


class Engine(StrEnum):
    """Where the log's passes run."""

    pandas = "pandas"
    spark = "spark"


EngineOpt = Annotated[
    Engine,
    typer.Option(
        help="pandas (this process) or spark (PySpark: a local[2] session, or the one "
        "spark-submit starts; needs pip install 'churnml[spark]' and Java 17).",
    ),
]


class ReturnsPolicy(StrEnum):
    """Treatment of negative amounts."""

    net = "net"
    drop = "drop"


class DuplicatesPolicy(StrEnum):
    """Treatment of exact duplicate lines."""

    auto = "auto"
    drop = "drop"
    keep = "keep"


TransactionsOpt = Annotated[
    list[Path],
    typer.Option(
        "--transactions",
        "-t",
        help="Transaction log: CSV, CSV.gz or Parquet. Repeat to read several files as one "
        "history (e.g. one per year); rows in both count as exact duplicates.",
        show_default=False,
    ),
]
AsOfOpt = Annotated[
    str | None,
    typer.Option(help="As-of date (YYYY-MM-DD); rows after it are excluded. Default: last date."),
]
CustomerCol = Annotated[str, typer.Option(help="Column holding the customer id.")]
DateCol = Annotated[str, typer.Option(help="Column holding the order date or timestamp.")]
AmountCol = Annotated[str, typer.Option(help="Column holding the line or order revenue.")]
OrderCol = Annotated[str, typer.Option(help="Optional order id column.")]
ProductCol = Annotated[str, typer.Option(help="Optional product id column.")]
QuantityCol = Annotated[str, typer.Option(help="Optional quantity column.")]
ChannelCol = Annotated[str, typer.Option(help="Optional channel column.")]
SepOpt = Annotated[str, typer.Option(help="Field delimiter of text files (use '\\t' for tab).")]
EncodingOpt = Annotated[str, typer.Option(help="Text encoding of text files.")]
DateFormatOpt = Annotated[
    str | None, typer.Option(help="strftime format of dates, e.g. %d/%m/%Y. Default: inferred.")
]
ReturnsOpt = Annotated[
    ReturnsPolicy, typer.Option(help="net: net returns against same-day purchases; drop: exclude.")
]
DuplicatesOpt = Annotated[
    DuplicatesPolicy,
    typer.Option(
        help="Exact duplicate lines: auto drops them only when an order id column exists."
    ),
]
ExcludeOpt = Annotated[
    str | None, typer.Option(help="Comma-separated customer ids to exclude (test accounts).")
]
ExcludePatternOpt = Annotated[
    str | None, typer.Option(help="Regular expression of customer ids to exclude.")
]
MaxRevenueOpt = Annotated[
    float | None, typer.Option(help="Exclude customers whose total net revenue exceeds this.")
]
StrictOpt = Annotated[bool, typer.Option(help="Fail instead of excluding any row.")]
FreqOpt = Annotated[Freq, typer.Option(help="Purchase period: D (customer-day) or W (week).")]
SeedOpt = Annotated[int, typer.Option(help="Random seed (LightGBM); same data + seed = same run.")]
ExperimentOpt = Annotated[str, typer.Option(help="MLflow experiment to log the run in.")]
ModelNameOpt = Annotated[str, typer.Option(help="Registered model name in the MLflow registry.")]
TrackOpt = Annotated[
    bool, typer.Option(help="Log an MLflow run ($MLFLOW_TRACKING_URI, default ./mlruns.db).")
]
StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help=f"Score store, a SQLAlchemy URL (sqlite:///scores.db, postgresql+psycopg://...). "
        f"Default: ${SCORE_STORE_ENV}, else sqlite:///scores.db. Prefer the variable for a URL "
        "with a password: command lines are visible to other users.",
        show_default=False,
    ),
]


def _load(
    transactions: Path | list[Path],
    *,
    as_of: str | None = None,
    customer_col: str = "customer_id",
    date_col: str = "date",
    amount_col: str = "amount",
    order_col: str = "order_id",
    product_col: str = "product_id",
    quantity_col: str = "quantity",
    channel_col: str = "channel",
    sep: str = ",",
    encoding: str = "utf-8",
    date_format: str | None = None,
    returns: ReturnsPolicy = ReturnsPolicy.net,
    duplicates: DuplicatesPolicy = DuplicatesPolicy.auto,
    exclude_customers: str | None = None,
    exclude_customer_pattern: str | None = None,
    max_customer_revenue: float | None = None,
    strict: bool = False,
    freq: Freq = Freq.D,
    report: bool = True,
) -> ValidatedTransactions:
    columns, policy = _reading(
        customer_col,
        date_col,
        amount_col,
        order_col,
        product_col,
        quantity_col,
        channel_col,
        date_format,
        returns,
        duplicates,
        exclude_customers,
        exclude_customer_pattern,
        max_customer_revenue,
        strict,
        freq,
    )
    paths = transactions if isinstance(transactions, list) else [transactions]
    tx = load_transactions(
        paths,
        columns=columns,
        as_of=as_of,
        policy=policy,
        sep=sep,
        encoding=encoding,
        progress=err.is_terminal,
    )
    if report:
        _print_report_line(tx)
    return tx


def _reading(
    customer_col: str,
    date_col: str,
    amount_col: str,
    order_col: str,
    product_col: str,
    quantity_col: str,
    channel_col: str,
    date_format: str | None,
    returns: ReturnsPolicy,
    duplicates: DuplicatesPolicy,
    exclude_customers: str | None,
    exclude_customer_pattern: str | None,
    max_customer_revenue: float | None,
    strict: bool,
    freq: Freq,
) -> tuple[ColumnMap, ValidationPolicy]:
    """Return the column names and the validation policy the loader options ask for."""
    columns = ColumnMap(
        customer_id=customer_col,
        date=date_col,
        amount=amount_col,
        order_id=order_col,
        product_id=product_col,
        quantity=quantity_col,
        channel=channel_col,
    )
    policy = ValidationPolicy(
        returns=returns.value,  # type: ignore[arg-type]
        duplicates=duplicates.value,  # type: ignore[arg-type]
        exclude_customers=frozenset(
            c.strip() for c in (exclude_customers or "").split(",") if c.strip()
        ),
        exclude_customer_pattern=exclude_customer_pattern,
        max_customer_revenue=max_customer_revenue,
        strict=strict,
        freq=freq.value,  # type: ignore[arg-type]
        date_format=date_format,
    )
    return columns, policy


_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):/(?!/)")


def spark_path(path: Path) -> str:
    """Return a path for Spark, with the ``//`` of a URL that ``pathlib`` folded back.

    ``Path("s3a://shop/orders")`` prints as ``s3a:/shop/orders``; Hadoop reads ``file:/x``
    and ``hdfs:/x`` as they are, but an object store's bucket is the URL's authority.

    Parameters
    ----------
    path : pathlib.Path
        What the option gave.

    Returns
    -------
    str
        The text Spark reads: ``s3a://shop/orders``, ``/data/orders.parquet``, ...
    """
    text = str(path)
    found = _URL.match(text)
    if found is None or found.group(1).lower() in ("file", "hdfs"):
        return text
    return f"{found.group(1)}://{text[found.end() :]}"


def _load_spark(
    transactions: list[Path], *, as_of: str | None = None, report: bool = True, **loader: Any
) -> SparkTransactions:
    """Read and validate the log as Spark jobs (``--engine spark``)."""
    if spark_engine is None:
        raise typer.BadParameter(
            "the Spark engine needs PySpark and Java 17: pip install 'churnml[spark]'",
            param_hint="--engine",
        )
    if len(transactions) != 1:
        raise typer.BadParameter(
            "the Spark engine reads one path: a file, or a folder of Parquet files",
            param_hint="--transactions",
        )
    sep, encoding = loader.pop("sep", ","), loader.pop("encoding", "utf-8")
    columns, policy = _reading(**loader)
    session = spark_engine.spark_session()
    source = spark_path(transactions[0])
    raw = spark_engine.read_spark(session, source, columns, sep=sep, encoding=encoding)
    tx = spark_engine.validate_spark(raw, as_of=as_of, policy=policy, source=source)
    if report:
        _print_report_line(tx)
    return tx


def _print_report_line(tx: ValidatedTransactions | SparkTransactions) -> None:
    """One line of validation counts on standard error (full table: churnml describe)."""
    rep = tx.report
    parts = [f"{REASONS[k]} {v:,}" for k, v in rep.excluded.items() if v]
    excluded = "; excluded: " + ", ".join(parts) if parts else ""
    err.print(
        f"{rep.source}: {rep.n_input:,} rows read, {rep.n_kept:,} kept{excluded}",
        highlight=False,
        soft_wrap=True,
    )


_LOADER_OPTIONS: list[tuple[str, Any, Any]] = [
    ("customer_col", CustomerCol, "customer_id"),
    ("date_col", DateCol, "date"),
    ("amount_col", AmountCol, "amount"),
    ("order_col", OrderCol, "order_id"),
    ("product_col", ProductCol, "product_id"),
    ("quantity_col", QuantityCol, "quantity"),
    ("channel_col", ChannelCol, "channel"),
    ("sep", SepOpt, ","),
    ("encoding", EncodingOpt, "utf-8"),
    ("date_format", DateFormatOpt, None),
    ("returns", ReturnsOpt, ReturnsPolicy.net),
    ("duplicates", DuplicatesOpt, DuplicatesPolicy.auto),
    ("exclude_customers", ExcludeOpt, None),
    ("exclude_customer_pattern", ExcludePatternOpt, None),
    ("max_customer_revenue", MaxRevenueOpt, None),
    ("strict", StrictOpt, False),
    ("freq", FreqOpt, Freq.D),
]


def with_loader_options(func: F) -> F:
    """Give a command the reading and validation options, passed to it as ``loader``.

    Typer reads options from the function signature, so the shared options are appended to
    it here once instead of being written out in every command.

    Parameters
    ----------
    func : callable
        A command whose last parameter is ``loader``.

    Returns
    -------
    callable
        The command with the loader options in its signature.
    """
    signature = inspect.signature(func)
    # Annotations are strings here (postponed evaluation); typer needs the Annotated objects.
    hints = typing.get_type_hints(func, include_extras=True)
    params = [
        p.replace(annotation=hints.get(p.name, p.annotation))
        for p in signature.parameters.values()
        if p.name != "loader"
    ]
    params += [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=ann)
        for name, ann, default in _LOADER_OPTIONS
    ]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        loader = {name: kwargs.pop(name) for name, _, _ in _LOADER_OPTIONS}
        return func(*args, loader=loader, **kwargs)

    wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {
        **{k: v for k, v in hints.items() if k != "loader"},
        **{name: ann for name, ann, _ in _LOADER_OPTIONS},
    }
    return wrapper  # type: ignore[return-value]


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1 else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def print_summary(summary: DataSummary, console: Console = out) -> None:
    """Print a data summary as tables."""
    rep = summary.report
    head = Table(title=f"{rep.source} (as of {summary.as_of.date()})", show_header=False)
    head.add_column("item")
    head.add_column("value", justify="right")
    for key, value in summary.stats.items():
        head.add_row(key.replace("_", " "), _fmt(value))
    console.print(head)

    val = Table(title="Validation: every row accounted for")
    val.add_column("reason")
    val.add_column("rows", justify="right")
    val.add_column(f"first {rep.row_word}s")
    val.add_row("read", _fmt(rep.n_input), "")
    for reason, count in rep.excluded.items():
        if count:
            shown = rep.examples[reason][:5]
            more = " ..." if count > len(shown) else ""
            val.add_row(
                f"excluded: {REASONS[reason]}", _fmt(count), ", ".join(map(str, shown)) + more
            )
    val.add_row("[bold]kept[/]", f"[bold]{rep.n_kept:,}[/]", "")
    for flag, count in rep.flags.items():
        if count:
            val.add_row(f"note: {FLAGS[flag]}", _fmt(count), "")
    lost = rep.n_customers_input - rep.n_customers
    if lost:
        val.add_row("note: customers all of whose rows were excluded", _fmt(lost), "")
    if rep.n_customers_without_purchase:
        val.add_row(
            "note: customers with no positive-net purchase",
            _fmt(rep.n_customers_without_purchase),
            "",
        )
    console.print(val)

    seg = Table(title="Lifecycle segments at as-of")
    for col in ("segment", "customers", "share", "revenue share"):
        seg.add_column(col, justify="left" if col == "segment" else "right")
    for name, row in summary.segments.iterrows():
        seg.add_row(
            str(name),
            f"{int(row['customers']):,}",
            f"{row['share']:.1%}",
            f"{row['revenue_share']:.1%}",
        )
    console.print(seg)
    _print_rates(summary, console)


def _print_rates(summary: DataSummary, console: Console) -> None:
    """Print the rates by month and the cohort matrix (the last 12 of each)."""
    for warning in summary.warnings:
        console.print(f"[yellow]Warning:[/] {escape(warning)}", soft_wrap=True)
    if len(summary.monthly):
        months = Table(
            title="Repeat rates by month (returning buyers; purchases not a customer's first)",
            title_justify="left",
        )
        for col in ("month", "buyers", "by buyers", "by purchases", "revenue"):
            months.add_column(col, justify="left" if col == "month" else "right")
        for month, row in summary.monthly.tail(12).iterrows():
            rate_b, rate_t = row["repeat_rate_buyers"], row["repeat_rate_transactions"]
            months.add_row(
                f"{month}{' (partial)' if row['partial'] else ''}",
                f"{int(row['buyers']):,}",
                "-" if pd.isna(rate_b) else f"{rate_b:.1%}",
                "-" if pd.isna(rate_t) else f"{rate_t:.1%}",
                f"{row['revenue']:,.0f}",
            )
        console.print(months)
    cohorts = summary.cohorts
    if cohorts is not None and len(cohorts.sizes):
        shown = cohorts.retention.tail(12).iloc[:, :13]
        console = Console(width=max(console.width, 130)) if console is out else console
        table = Table(
            title="First-purchase cohorts: share buying again N months later (last 12 cohorts)",
            title_justify="left",
        )
        table.add_column("cohort")
        table.add_column("customers", justify="right")
        for k in shown.columns[1:]:
            table.add_column(f"+{k}", justify="right")
        for label, row in shown.iterrows():
            cells = ["" if pd.isna(v) else f"{v:.0%}" for v in row.iloc[1:]]
            table.add_row(str(label), f"{int(cohorts.sizes[label]):,}", *cells)
        console.print(table)


@app.command()
@with_loader_options
@friendly_errors
def describe(
    transactions: TransactionsOpt,
    as_of: AsOfOpt = None,
    json_out: Annotated[
        Path | None,
        typer.Option(
            "--json",
            help="Also write the summary as JSON to this file (with the rates by month and "
            "the cohort matrix).",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            help="First day of the window of the repeat rates (default: the whole log); it "
            "should be longer than the purchase cycle.",
            show_default=False,
        ),
    ] = None,
    engine: EngineOpt = Engine.pandas,
    loader: dict[str, Any] | None = None,
) -> None:
    """Summarise a transaction log: validation, customers, revenue, repeat rates, segments.

    Repeat rates by buyers and by transactions over a window (--since to as-of), the purchase
    cycle (with a warning when the window is shorter), rates by month and first-purchase
    cohorts. With --engine spark every count is a Spark job; the summary is the same.
    """
    if engine is Engine.spark:
        spark_tx = _load_spark(transactions, as_of=as_of, report=False, **(loader or {}))
        with err.status("Describing in Spark"):
            summary = spark_engine.describe_spark(spark_tx, as_of, since=since)
    else:
        tx = _load(transactions, as_of=as_of, report=False, **(loader or {}))
        summary = describe_data(tx, as_of, since=since)
    print_summary(summary)
    if json_out is not None:
        _write_json(json_out, summary.to_dict())
        err.print(f"Summary written to {json_out}")


def _names(text: str) -> list[str]:
    """Split a comma-separated --models value."""
    return [m.strip() for m in text.split(",") if m.strip()]


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")


@app.command()
@with_loader_options
@friendly_errors
def evaluate(
    transactions: TransactionsOpt,
    cutoff: Annotated[str, typer.Option(help="Last day of fitting data (YYYY-MM-DD).")],
    horizon_days: Annotated[int, typer.Option(help="Holdout window length in days.", min=1)],
    out_path: Annotated[Path | None, typer.Option("--out", help="Write metrics.json here.")] = None,
    plots_dir: Annotated[
        Path | None,
        typer.Option(
            help="Write calibration, gains and frequency plots (PNG) here. "
            "Default: beside --out, else no plots."
        ),
    ] = None,
    models: Annotated[
        str,
        typer.Option(help=f"Comma-separated model keys: {describe_keys()}."),
    ] = ",".join(MODEL_KEYS),
    margin: Annotated[float, typer.Option(help="Margin share of revenue for CLV.")] = 1.0,
    discount_rate: Annotated[float, typer.Option(help="Annual discount rate for CLV.")] = 0.10,
    clv_horizon_days: Annotated[int, typer.Option(help="CLV horizon in days.", min=1)] = 365,
    champion: Annotated[
        bool,
        typer.Option(
            help="Also report the champion train would register: chosen on inner backtest "
            "windows before the cutoff, with the level they teach."
        ),
    ] = True,
    seed: SeedOpt = 0,
    experiment: ExperimentOpt = EXPERIMENT,
    track: TrackOpt = True,
    loader: dict[str, Any] | None = None,
) -> None:
    """Fit every model on data up to --cutoff and score it on (cutoff, cutoff + horizon]."""
    value = ValueSettings(
        horizon_days=clv_horizon_days, margin=margin, annual_discount_rate=discount_rate
    )
    tx = _load(transactions, as_of=None, **(loader or {}))
    keys = _names(models)
    with model_warnings_shown_below(), err.status("Evaluating") as status:
        result = run_evaluation(
            tx,
            cutoff,
            horizon_days,
            models=keys,
            value=value,
            seed=seed,
            champion=champion,
            experiment=experiment,
            track=track,
            out=out_path,
            plots_dir=plots_dir,
            on_step=lambda msg: status.update(msg),
        )
    print_evaluation(result)
    if out_path is not None:
        out.print(f"Metrics written to {out_path}")
    plots = [f for f in result.files if f.suffix == ".png"]
    if plots:
        out.print("Plots: " + ", ".join(str(f) for f in plots))
    if result.run_id is not None:
        _print_run(result.run_id)


def _print_run(run_id: str) -> None:
    out.print(f"MLflow run {run_id} in {tracking_uri()}", soft_wrap=True)


def print_evaluation(result: Evaluation, console: Console = out) -> None:
    """Print the metrics table of an evaluation, with failures and warnings."""
    labels = result.labels
    table = Table(
        title=f"Out-of-time evaluation: cutoff {result.cutoff.date()}, "
        f"horizon {result.horizon_days} d, {len(labels):,} customers, "
        f"{int(labels['bought'].sum()):,} bought, revenue {labels['revenue'].sum():,.0f}"
    )
    frame = result.table()
    table.add_column("metric")
    for name in frame.index:
        table.add_column(name, justify="right")
    for metric in frame.columns:
        table.add_row(
            metric,
            *(
                f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}" if pd.notna(v) else "-"
                for v in frame[metric]
            ),
        )
    console.print(table)
    for name, metrics in result.metrics.items():
        if "error" in metrics:
            console.print(f"[yellow]{name} not evaluated:[/] {metrics['error']}", soft_wrap=True)
    for name, diag in result.diagnostics.items():
        for message in diag.get("warnings", []):
            console.print(f"[yellow]{name}:[/] {message}", soft_wrap=True)
        for message in diag.get("notes", []):
            console.print(f"{name}: {message}", soft_wrap=True)


@app.command()
@with_loader_options
@friendly_errors
def train(
    transactions: TransactionsOpt,
    as_of: AsOfOpt = None,
    horizon_days: Annotated[int, typer.Option(help="Prediction horizon in days.", min=1)] = 90,
    models: Annotated[
        str, typer.Option(help=f"Comma-separated candidate families: {describe_keys(FAMILIES)}.")
    ] = ",".join(FAMILIES),
    margin: Annotated[float, typer.Option(help="Margin share of revenue for CLV.")] = 1.0,
    discount_rate: Annotated[float, typer.Option(help="Annual discount rate for CLV.")] = 0.10,
    clv_horizon_days: Annotated[int, typer.Option(help="CLV horizon in days.", min=1)] = 365,
    acquisition_cost: Annotated[
        float | None, typer.Option(help="Acquisition cost: adds net_clv and payback_days.")
    ] = None,
    seed: SeedOpt = 0,
    force: Annotated[
        bool, typer.Option(help="Make the new version champion without the comparison.")
    ] = False,
    model_name: ModelNameOpt = REGISTERED_MODEL,
    experiment: ExperimentOpt = EXPERIMENT,
    out_dir: Annotated[
        Path | None,
        typer.Option(help="Also write the model bundle folder here (for --model <folder>)."),
    ] = None,
    max_customers: Annotated[
        int,
        typer.Option(
            help="Fit on a fixed random sample of this many customers when there are more "
            "(every line of each); 0 fits on everyone. Scoring always reads everyone.",
            min=0,
        ),
    ] = DEFAULT_MAX_CUSTOMERS,
    engine: EngineOpt = Engine.pandas,
    loader: dict[str, Any] | None = None,
) -> None:
    """Backtest every family, register the winner as challenger, promote it if it beats champion.

    The run (parameters, data fingerprint, metrics, plots, model) is logged to MLflow at
    $MLFLOW_TRACKING_URI (default: ./mlruns.db with artifacts in ./mlruns).
    """
    value = ValueSettings(
        horizon_days=clv_horizon_days,
        margin=margin,
        annual_discount_rate=discount_rate,
        acquisition_cost=acquisition_cost,
    )
    families = _names(models)
    options: dict[str, Any] = {
        "as_of": as_of,
        "horizon_days": horizon_days,
        "families": families,
        "value": value,
        "seed": seed,
        "force": force,
        "model_name": model_name,
        "experiment": experiment,
        "export_dir": out_dir,
        "max_customers": max_customers or None,
    }
    if engine is Engine.spark:
        spark_tx = _load_spark(transactions, as_of=as_of, **(loader or {}))
        with model_warnings_shown_below(), err.status("Training") as status:
            result = spark_engine.train_spark(
                spark_tx, on_step=lambda msg: status.update(msg), **options
            )
    else:
        tx = _load(transactions, as_of=as_of, **(loader or {}))
        with model_warnings_shown_below(), err.status("Training") as status:
            result = run_training(tx, on_step=lambda msg: status.update(msg), **options)
    if result.backtest is not None:
        print_evaluation(result.backtest)
    print_backtests(result)
    for note in result.notes:
        out.print(f"note: {note}", soft_wrap=True)
    _print_training(result)


def _number(value: Any, digits: int = 3) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "-"
    return "-" if pd.isna(number) else f"{number:.{digits}f}"


def print_backtests(result: TrainResult, console: Console = out) -> None:
    """Print the rolling-window summary the champion rule read, the level and the totals."""
    table = result.backtest_summary
    if table is not None and len(result.backtests) > 0:
        cutoffs = ", ".join(str(ev.cutoff.date()) for ev in result.backtests)
        shown = Table(
            title=f"Backtest over {len(result.backtests)} windows (cutoffs {cutoffs}); * chosen"
        )
        shown.add_column("over the windows")
        for name in table.index:
            shown.add_column(f"{name}{' *' if table.loc[name, 'chosen'] else ''}", justify="right")
        rows = [("windows", "n_windows", 0)]
        for label, key in (
            ("AUC", "auc"),
            ("revenue Gini", "revenue_gini"),
            ("AUC + Gini", "score"),
            ("Brier", "brier"),
        ):
            rows += [(f"{label} mean", f"{key}_mean", 3), (f"{label} sd", f"{key}_std", 3)]
        rows += [("vs bgnbd (mean)", "vs_reference", 4), ("spread vs bgnbd (sd)", "spread", 4)]
        for label, key in (("buyers ratio", "buyers_ratio"), ("revenue ratio", "revenue_ratio")):
            rows += [(f"{label} {stat}", f"{key}_{stat}", 2) for stat in ("mean", "min", "max")]
        rows += [
            ("level miss, buyers", "buyers_miss", 3),
            ("level miss, revenue", "revenue_miss", 3),
        ]
        for label, column, digits in rows:
            shown.add_row(label, *(_number(v, digits) for v in table[column]))
        shown.add_row(
            "below bgnbd by > spread", *("yes" if not g else "no" for g in table["guard"])
        )
        shown.add_row("within tolerance", *("yes" if w else "no" for w in table["within"]))
        console.print(shown)
        console.print(
            "[dim]level miss = mean |predicted / actual - 1| after the level the other windows "
            "teach; the rule reads the means, the BG/NBD guard and the tolerance[/]",
            soft_wrap=True,
        )
    level = result.level
    if level is not None:
        f = level.factors
        console.print(
            f"Level of {level.family} ({level.method}): buyers x{f['buyers']:.3f}, purchases "
            f"x{f['purchases']:.3f}, revenue x{f['revenue']:.3f}, CLV x{f['clv']:.3f}",
            soft_wrap=True,
        )
    if result.totals:
        horizon = result.settings.horizon_days
        parts = []
        for key, digits in (("buyers", 0), ("purchases", 0), ("revenue", 0)):
            total = result.totals[key]
            text = f"{key} {total['predicted']:,.{digits}f}"
            if total["low"] is not None and total["high"] is not None:
                text += f" ({total['low']:,.{digits}f}-{total['high']:,.{digits}f})"
            parts.append(text)
        console.print(
            f"Expected in the {horizon} days after {result.settings.to_dict()['as_of']}: "
            + ", ".join(parts),
            soft_wrap=True,
        )
    if result.timings:
        console.print(
            "[dim]Seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in result.timings.items()) + "[/]",
            soft_wrap=True,
        )


def _print_training(result: TrainResult) -> None:
    out.print(f"Best family: [bold]{result.champion}[/] ({result.reason})\nRule: {CHAMPION_RULE}")
    out.print(f"[dim]Level rule: {LEVEL_RULE}[/]", soft_wrap=True)
    out.print(
        f"Registered {result.model_name} version {result.version} as challenger "
        f"(MLflow run {result.run_id} in {result.tracking_uri})",
        soft_wrap=True,
    )
    state = "[green]promoted to champion[/]" if result.promoted else "[yellow]not promoted[/]"
    out.print(f"Version {result.version} {state}: {result.promotion}", soft_wrap=True)
    out.print(f"[dim]Promotion rule: {PROMOTION_RULE}[/]", soft_wrap=True)
    if result.bundle_dir is not None:
        out.print(f"Bundle folder: {result.bundle_dir}")


@app.command()
@with_loader_options
@friendly_errors
def score(
    transactions: TransactionsOpt,
    as_of: Annotated[str, typer.Option(help="Scoring date (YYYY-MM-DD).")],
    out_path: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Write the scores CSV here. With --engine spark, a path not ending in .csv "
            "is a Parquet folder written by the workers.",
        ),
    ],
    horizon_days: Annotated[
        int | None, typer.Option(help="Horizon in days. Default: the model's.", min=1)
    ] = None,
    model: Annotated[
        str,
        typer.Option(
            help="champion, challenger, a version number, an MLflow URI (models:/..., "
            "runs:/...), or a bundle / MLflow model folder."
        ),
    ] = "champion",
    model_name: ModelNameOpt = REGISTERED_MODEL,
    publish: Annotated[
        bool,
        typer.Option(
            "--publish",
            help="Also write the scores to the score store as a snapshot and make it the one "
            "the HTTP API serves.",
        ),
    ] = False,
    store: StoreOpt = None,
    keep: Annotated[
        int | None,
        typer.Option(
            help=f"With --publish: snapshots to keep, newest first (the current one is never "
            f"deleted). Default: ${SNAPSHOT_KEEP_ENV}, else 10.",
            min=1,
        ),
    ] = None,
    engine: EngineOpt = Engine.pandas,
    loader: dict[str, Any] | None = None,
) -> None:
    """Score every customer seen up to --as-of with a registered model; write the scores CSV.

    With --publish the scores also go to the score store as a new snapshot, which becomes
    current (served by churnml serve) once completely written. With --engine spark each
    group of customers is scored where it lies, with the same rows as the pandas engine.
    """
    target = None
    if publish:
        # Reach the store before scoring, so a wrong URL fails in a second, not after the run.
        target = ScoreStore(store)
        target.current_id()
    try:
        options = {"horizon_days": horizon_days, "model": model, "model_name": model_name}
        if engine is Engine.spark:
            spark_tx = _load_spark(transactions, as_of=as_of, **(loader or {}))
            with model_warnings_shown_below(), err.status("Scoring") as status:
                in_spark = spark_engine.score_model_spark(
                    spark_tx, as_of, on_step=lambda msg: status.update(msg), **options
                )
            as_csv = out_path.name.lower().endswith((".csv", ".csv.gz"))
            # a CSV is one file, written here; Parquet is written by the workers
            result = in_spark.to_result() if as_csv or target is not None else None
            if as_csv and result is not None:
                out_path.parent.mkdir(parents=True, exist_ok=True)
                result.scores.to_csv(out_path, index=False)
            else:  # a folder here or on object storage, written by the workers
                in_spark.scores.write.mode("overwrite").parquet(spark_path(out_path))
            _print_scoring(
                in_spark.segment_counts(),
                in_spark.n_customers,
                in_spark.model_version,
                in_spark.family,
                in_spark.meta["as_of"],
                out_path,
            )
            _print_totals(in_spark.totals(), in_spark.meta, in_spark.horizon_days)
            n_yet_to_buy, n_unscored = in_spark.n_yet_to_buy, in_spark.n_unscored
        else:
            tx = _load(transactions, as_of=as_of, **(loader or {}))
            with model_warnings_shown_below(), err.status("Scoring"):
                result = run_scoring(tx, as_of, **options)
            out_path.parent.mkdir(parents=True, exist_ok=True)
            result.scores.to_csv(out_path, index=False)
            scores = result.scores
            _print_scoring(
                scores["segment"].value_counts(),
                len(scores),
                result.model_version,
                result.family,
                result.meta["as_of"],
                out_path,
            )
            totals = {c: float(scores[c].sum()) for c in _TOTAL_COLUMNS}
            _print_totals(totals, result.meta, result.horizon_days)
            n_yet_to_buy, n_unscored = result.n_yet_to_buy, result.n_unscored
        if n_yet_to_buy:
            out.print(
                f"note: {n_yet_to_buy:,} customers have no purchase with a positive net "
                "amount up to as-of: scored as yet to buy (see their note column)"
            )
        if n_unscored:
            out.print(
                f"note: {n_unscored:,} customers have no purchase with a positive net "
                "amount up to as-of and get no score"
            )
        if target is not None and result is not None:
            with err.status("Publishing"):
                snap = publish_scores(result, store=target, keep=keep)
            out.print(
                f"Published snapshot {snap.id} ({snap.n_rows:,} rows, {snap.model_version}, "
                f"as of {snap.as_of}) to {target.url}; it is now the current snapshot",
                soft_wrap=True,
            )
    finally:
        if target is not None:
            target.dispose()


_TOTAL_COLUMNS = ("p_repurchase", "expected_purchases", "expected_revenue")


def _print_scoring(
    counts: pd.Series, n: int, version: str, family: str, trained_to: str, path: Path
) -> None:
    out.print(
        f"Scored {n:,} customers with {version} ({family}, trained to {trained_to}) into {path}"
    )
    out.print("Segments: " + ", ".join(f"{k} {v:,}" for k, v in counts.items() if v))


def _print_totals(totals: dict[str, float], meta: dict[str, Any], horizon_days: int) -> None:
    """Print the scored totals, with the interval the model's backtest windows give."""
    level = meta.get("level") or {}
    interval = level.get("interval") or {}
    parts = []
    for key, column in zip(("buyers", "purchases", "revenue"), _TOTAL_COLUMNS, strict=True):
        total = totals[column]
        band = interval.get(key)
        text = f"{key} {total:,.0f}"
        # the interval is for the horizon the windows were backtested on
        if band and int(meta.get("horizon_days", 0)) == int(horizon_days):
            text += f" ({total * band[0]:,.0f}-{total * band[1]:,.0f})"
        parts.append(text)
    out.print(f"Expected in the next {horizon_days} days: " + ", ".join(parts), soft_wrap=True)


models_app = typer.Typer(
    help="List registered model versions, promote one to champion, roll back.",
    no_args_is_help=True,
)
app.add_typer(models_app, name="models")


@models_app.command("list")
@friendly_errors
def models_list(
    model_name: ModelNameOpt = REGISTERED_MODEL,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List every version of the registered model with aliases, data and backtest metrics."""
    frame = list_versions(model_name)
    if as_json:
        out.print_json(frame.to_json(orient="records", date_format="iso"))
        return
    if frame.empty:
        out.print(f"No versions of {model_name!r} in {tracking_uri()}; run churnml train first.")
        return
    table = Table(title=f"{model_name} in {tracking_uri()}", title_justify="left")
    shown = {
        "version": "ver",
        "aliases": "aliases",
        "family": "family",
        "as_of": "as of",
        "horizon_days": "h (d)",
        "auc": "AUC",
        "revenue_gini": "Gini",
        "buyers_ratio": "buyers",
        "revenue_ratio": "revenue",
        "created": "created (UTC)",
        "run_id": "run",
    }
    for header in shown.values():
        table.add_column(header, no_wrap=True)
    for row in frame.to_dict("records"):
        cells = {k: "" if row[k] is None else str(row[k]) for k in shown}
        cells["created"] = row["created"].strftime("%Y-%m-%d %H:%M")
        cells["run_id"] = cells["run_id"][:8]
        for metric in ("auc", "revenue_gini", "buyers_ratio", "revenue_ratio"):
            cells[metric] = cells[metric][:5]
        table.add_row(*cells.values())
    # Wider than a default 80-column pipe: a squeezed registry table hides the versions.
    Console(width=max(out.width, 130)).print(table)


@models_app.command("promote")
@friendly_errors
def models_promote(
    version: Annotated[str, typer.Argument(help="Version to make champion (3 or v3).")],
    reason: Annotated[str, typer.Option(help="Why, recorded on the version.")] = "by hand",
    model_name: ModelNameOpt = REGISTERED_MODEL,
) -> None:
    """Make a version champion by hand (no comparison; the reason is recorded)."""
    previous = promote(version, reason, model_name)
    was = f" (was {previous})" if previous else ""
    out.print(f"{model_name} version {version.removeprefix('v')} is champion{was}")


@models_app.command("rollback")
@friendly_errors
def models_rollback(model_name: ModelNameOpt = REGISTERED_MODEL) -> None:
    """Give champion back to the version that held it before the current one."""
    demoted, restored = rollback(model_name)
    out.print(f"{model_name}: champion rolled back from version {demoted} to {restored}")


snapshots_app = typer.Typer(
    help="Score snapshots in the score store: list them, choose the one the HTTP API serves.",
    no_args_is_help=True,
)
app.add_typer(snapshots_app, name="snapshots")


def _print_snapshots(frame: pd.DataFrame, url: str) -> None:
    if frame.empty:
        out.print(f"No snapshots in {url}; publish one with churnml score --publish.")
        return
    table = Table(title=f"Score snapshots in {url}", title_justify="left")
    for header in ("id", "current", "created (UTC)", "model version", "as of", "h (d)", "rows"):
        table.add_column(header, no_wrap=True, justify="right" if header == "rows" else "left")
    for row in frame.itertuples():
        table.add_row(
            str(row.id),
            "*" if row.is_current else "",
            row.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            row.model_version,
            row.as_of,
            str(row.horizon_days),
            f"{row.n_rows:,}",
        )
    Console(width=max(out.width, 100)).print(table)


@snapshots_app.command("list")
@friendly_errors
def snapshots_list(
    store: StoreOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the snapshots in the score store, newest first; * marks the one served."""
    with ScoreStore(store) as opened:
        frame = list_snapshots(opened)
        url = opened.url
    if as_json:
        out.print_json(frame.to_json(orient="records", date_format="iso"))
        return
    _print_snapshots(frame, url)


@snapshots_app.command("activate")
@friendly_errors
def snapshots_activate(
    snapshot_id: Annotated[int, typer.Argument(help="Id of the snapshot to serve.")],
    store: StoreOpt = None,
) -> None:
    """Make a stored snapshot the one the HTTP API serves (a rollback, for instance)."""
    with ScoreStore(store) as opened:
        previous = opened.current_id()
        snap = activate_snapshot(snapshot_id, opened)
        url = opened.url
    was = f" (was {previous})" if previous not in (None, snap.id) else ""
    out.print(
        f"Snapshot {snap.id} is now current{was} in {url}: {snap.model_version}, "
        f"as of {snap.as_of}, {snap.n_rows:,} rows",
        soft_wrap=True,
    )


class LogLevel(StrEnum):
    """uvicorn log levels."""

    critical = "critical"
    error = "error"
    warning = "warning"
    info = "info"
    debug = "debug"
    trace = "trace"


#: The service, named by its import string only: serve/ imports churnml, never the reverse,
#: so the command line must not import it (uvicorn does, in each worker).
SERVE_APP = "serve.app:create_app"
ADMIN_KEYS_ENV = "CHURNML_ADMIN_KEYS"
RELOAD_INTERVAL_ENV = "CHURNML_RELOAD_INTERVAL_SECONDS"
INSECURE_ENV = "CHURNML_INSECURE_NO_AUTH"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _require_api_keys(insecure_no_auth: bool) -> None:
    """Refuse to start an API that anyone could call, or whose keys are malformed.

    Parameters
    ----------
    insecure_no_auth : bool
        ``--insecure-no-auth`` was given.

    Raises
    ------
    ConfigError
        ``CHURNML_API_KEYS`` holds no key and ``insecure_no_auth`` is false, or a key in it or
        in ``CHURNML_ADMIN_KEYS`` is malformed (each worker would otherwise fail at start-up,
        and uvicorn would restart it over and over).
    """
    keys = api_key_digests(os.environ.get(API_KEYS_ENV, ""))
    api_key_digests(os.environ.get(ADMIN_KEYS_ENV, ""))
    if not keys and not insecure_no_auth:
        raise ConfigError(
            f"no API key: set {API_KEYS_ENV} (comma-separated keys, or sha256:<hex digest> of "
            "each) or pass --insecure-no-auth to serve without keys"
        )


def _require_reload_reach(workers: int) -> None:
    """Refuse several workers that would never reload together.

    Parameters
    ----------
    workers : int
        ``--workers``.

    Raises
    ------
    ConfigError
        Several workers with ``CHURNML_RELOAD_INTERVAL_SECONDS=0``: ``POST /v1/admin/reload``
        reaches one worker only, and without polling the others would keep serving the old
        snapshot for good.
    """
    interval = os.environ.get(RELOAD_INTERVAL_ENV, "").strip()
    try:
        seconds = float(interval) if interval else None
    except ValueError:
        raise ConfigError(f"{RELOAD_INTERVAL_ENV} must be a number of seconds") from None
    if workers > 1 and seconds == 0:
        raise ConfigError(
            f"{RELOAD_INTERVAL_ENV}=0 with --workers {workers}: an admin reload reaches one "
            "worker only, so the others would never change; set an interval (seconds) or run "
            "one worker"
        )


@app.command()
@friendly_errors
def serve(
    host: Annotated[
        str, typer.Option(help="Address to bind; anything but loopback exposes the API.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    workers: Annotated[
        int, typer.Option(help="Worker processes (2 on 2 cores serves most).", min=1)
    ] = 1,
    insecure_no_auth: Annotated[
        bool,
        typer.Option(
            "--insecure-no-auth",
            help=f"Serve without API keys (local trials only). Otherwise ${API_KEYS_ENV} must "
            "hold at least one key.",
        ),
    ] = False,
    log_level: Annotated[LogLevel, typer.Option(help="uvicorn's log level.")] = LogLevel.info,
) -> None:
    """Run the HTTP API (serve/): scores by customer id, batch scoring, recall lists.

    The service reads its settings from the environment: $CHURNML_API_KEYS (comma-separated
    keys, or sha256:<hex> digests of them), $CHURNML_SCORE_STORE, $MLFLOW_TRACKING_URI and
    the others listed in serve/settings.py. OpenAPI documentation is at /docs.
    """
    _require_api_keys(insecure_no_auth)
    _require_reload_reach(workers)
    if not _is_loopback(host):
        err.print(
            f"[yellow]warning:[/] binding to {host}: the API is reachable from other machines; "
            "put it behind TLS (a reverse proxy) and keep the keys secret",
            highlight=False,
            soft_wrap=True,
        )
    # Imported here, not at the top: every other command would pay for it at start-up.
    import uvicorn

    changed: dict[str, str | None] = {}

    def setenv(name: str, value: str) -> None:
        changed.setdefault(name, os.environ.get(name))
        os.environ[name] = value

    metrics_dir = None
    if insecure_no_auth:
        err.print("[yellow]warning:[/] --insecure-no-auth: every route answers without a key")
        setenv(INSECURE_ENV, "1")
    if workers > 1 and not os.environ.get(MULTIPROC_ENV):
        # Each worker counts its own requests; prometheus_client's multiprocess mode sums them
        # for /metrics from files in this folder, which must start empty.
        metrics_dir = tempfile.mkdtemp(prefix="churnml-metrics-")
        setenv(MULTIPROC_ENV, metrics_dir)
    fast = importlib.util.find_spec("uvloop") and importlib.util.find_spec("httptools")
    try:
        uvicorn.run(
            SERVE_APP,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            loop="uvloop" if fast else "auto",
            http="httptools" if fast else "auto",
            log_level=log_level.value,
            access_log=False,  # the app writes one structured line per request itself
            server_header=False,
            proxy_headers=False,
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
        for name, old in changed.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def _read_scores(path: Path) -> pd.DataFrame:
    """Read a scores CSV written by churnml score, customer ids as text.

    Parameters
    ----------
    path : pathlib.Path
        The CSV.

    Returns
    -------
    pandas.DataFrame
        The score table.

    Raises
    ------
    DataFileError
        The file is missing or not a CSV.
    """
    if not path.is_file():
        raise DataFileError(str(path), "no such file (write one with churnml score --out)")
    try:
        return pd.read_csv(path, dtype={"customer_id": str})
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataFileError(str(path), f"cannot be read as CSV: {exc}") from None


@app.command()
@friendly_errors
def recall(
    scores_path: Annotated[
        Path, typer.Option("--scores", help="Scores CSV written by churnml score.")
    ],
    budget: Annotated[float, typer.Option(help="Money available for the contacts.", min=0)],
    cost_per_contact: Annotated[
        float, typer.Option(help="Cost of one contact (> 0), e.g. 0.05 for an SMS.")
    ],
    out_path: Annotated[Path, typer.Option("--out", help="Write the recall list CSV here.")],
    segment: Annotated[
        list[str] | None,
        typer.Option(
            help="Segment to recall instead of warm, high_recall and low_recall; repeat for "
            "several (new, active, warm, high_recall, low_recall, lost).",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(help="Most customers to list, whatever the budget.", min=0)
    ] = None,
    horizon_days: Annotated[
        int | None,
        typer.Option(help="The scores' horizon, quoted in the reasons (e.g. 90).", min=1),
    ] = None,
    uplift: Annotated[
        float,
        typer.Option(
            help="Response uplift of a contact: share of reachable customers who would not "
            "have bought and buy because of it (measure it with a hold-out group).",
            min=0,
            max=1,
        ),
    ] = DEFAULT_UPLIFT,
    margin: Annotated[
        float,
        typer.Option(help="Margin on revenue (1.0 counts revenue as profit).", min=0, max=1),
    ] = DEFAULT_MARGIN,
    include_likely_buyers: Annotated[
        bool,
        typer.Option(
            help=f"Keep customers likely to buy anyway (p_repurchase >= {DEFAULT_LIKELY_BUYER}).",
        ),
    ] = False,
    stop_at_peak: Annotated[
        bool,
        typer.Option(help="Stop where the expected profit peaks, even below the budget."),
    ] = False,
    curve_path: Annotated[
        Path | None,
        typer.Option("--curve", help="Also write the profit curve (CSV) here.", show_default=False),
    ] = None,
) -> None:
    """Rank customers by the expected profit of a contact and keep what the budget pays for.

    Expected profit = uplift x P(alive) x (1 - P(buys on their own)) x margin x order value
    - cost. Prints the ROI and the profit curve with where spending should stop.
    """
    scores = _read_scores(scores_path)
    plan = plan_recall(
        scores,
        budget=budget,
        cost_per_contact=cost_per_contact,
        segment=segment or None,
        limit=limit,
        horizon_days=horizon_days,
        uplift=uplift,
        margin=margin,
        include_likely_buyers=include_likely_buyers,
        stop_at_peak=stop_at_peak,
    )
    ranked = plan.contacts
    out_path.parent.mkdir(parents=True, exist_ok=True)
    ranked.to_csv(out_path, index=False)
    if curve_path is not None:
        curve_path.parent.mkdir(parents=True, exist_ok=True)
        plan.curve.to_csv(curve_path, index=False)
    segments = ", ".join(segment or RECALL_SEGMENTS)
    out.print(
        f"{len(ranked):,} customers to contact ({segments}), total cost {plan.cost:,.2f} of "
        f"budget {budget:,.2f}; written to {out_path}",
        soft_wrap=True,
    )
    _print_plan(plan)
    if len(ranked):
        table = Table(title="Top of the list", title_justify="left")
        for header in ("rank", "customer", "tier", "profit", "reason"):
            table.add_column(header, justify="right" if header in ("rank", "profit") else "left")
        for row in ranked.head(10).itertuples():
            table.add_row(
                str(row.rank),
                escape(str(row.customer_id)),
                escape(str(row.value_tier)),
                f"{row.expected_profit:,.2f}",
                escape(str(row.reason)),
            )
        Console(width=max(out.width, 120)).print(table)


def _print_plan(plan: RecallPlan) -> None:
    """Print the ROI, who was left out, and the profit curve at a few points."""
    figures = plan.to_dict()
    roi = "-" if figures["roi"] is None else f"{figures['roi']:.1%}"
    out.print(
        f"Expected: margin won back {plan.expected_margin:,.2f}, profit "
        f"{plan.expected_profit:,.2f}, ROI {roi} (uplift {plan.uplift:g}, margin "
        f"{plan.margin:g}; {plan.candidates:,} candidates)",
        soft_wrap=True,
    )
    left_out = ", ".join(f"{n:,} {why}" for why, n in plan.excluded.items() if n)
    if left_out:
        out.print(f"Left out: {left_out}", soft_wrap=True)
    where = "within" if figures["peak_cost"] <= plan.budget else "beyond"
    out.print(
        f"Profit curve peaks at {plan.peak_contacts:,} contacts (cost "
        f"{figures['peak_cost']:,.2f}, expected profit {plan.peak_profit:,.2f}), {where} the "
        "budget: each contact past the peak is expected to cost more than it brings back.",
        soft_wrap=True,
    )
    curve = plan.curve
    if len(curve) > 1:
        n_max = int(curve["contacted"].iloc[-1])
        points = sorted(
            {round(n_max * q) for q in (0.1, 0.25, 0.5, 0.75, 1.0)}
            | {plan.peak_contacts, len(plan.contacts)}
        )
        table = Table(title="Profit curve", title_justify="left")
        for header in ("contacted", "cost", "expected profit", ""):
            table.add_column(header, justify="right" if header else "left")
        for n in points:
            row = curve.iloc[n]
            note = []
            if n == plan.peak_contacts:
                note.append("peak")
            if n == len(plan.contacts):
                note.append("this list")
            table.add_row(
                f"{n:,}", f"{row['cost']:,.2f}", f"{row['expected_profit']:,.2f}", ", ".join(note)
            )
        out.print(table)


class ReminderBasis(StrEnum):
    """What a reminder date is based on."""

    cycle = "cycle"
    model = "model"


@app.command()
@friendly_errors
def remind(
    scores_path: Annotated[
        Path, typer.Option("--scores", help="Scores CSV written by churnml score.")
    ],
    within_days: Annotated[
        int, typer.Option(help="List customers due in the next N days after as-of.", min=1)
    ],
    out_path: Annotated[Path, typer.Option("--out", help="Write the reminders CSV here.")],
    basis: Annotated[
        ReminderBasis,
        typer.Option(
            help="cycle: last purchase + the customer's own cycle (shrunk toward the "
            "population's); model: the model's next purchase date.",
        ),
    ] = ReminderBasis.cycle,
    as_of: Annotated[
        str | None,
        typer.Option(help="Scoring date (default: read from the scores).", show_default=False),
    ] = None,
) -> None:
    """List customers due to buy again by their purchase cycle in the next N days."""
    scores = _read_scores(scores_path)
    due = reminders(scores, within_days, as_of=as_of, basis=basis.value)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    due.to_csv(out_path, index=False)
    out.print(
        f"{len(due):,} customers due in the next {within_days} days (by {basis.value}); "
        f"written to "
        f"{out_path}",
        soft_wrap=True,
    )
    if len(due):
        table = Table(title="Soonest due", title_justify="left")
        for header in ("customer", "due", "segment", "cycle (d)", "last purchase"):
            table.add_column(header)
        for row in due.head(10).itertuples():
            table.add_row(
                escape(str(row.customer_id)),
                escape(str(row.reminder_date)),
                escape(str(getattr(row, "segment", ""))),
                f"{getattr(row, 'purchase_cycle_days', float('nan')):.0f}",
                escape(str(getattr(row, "last_purchase_date", ""))),
            )
        out.print(table)


@app.command()
@friendly_errors
def breakeven(
    acquisition_cost: Annotated[float, typer.Option(help="Cost of winning one customer.", min=0)],
    order_value: Annotated[float, typer.Option(help="Revenue of the first order.", min=0)],
    margin: Annotated[float, typer.Option(help="Margin on revenue, 0 to 1.", min=0, max=1)],
    scores_path: Annotated[
        Path | None,
        typer.Option(
            "--scores",
            help="Scores CSV: which share of customers' CLV covers the rest.",
            show_default=False,
        ),
    ] = None,
    clv_margin: Annotated[
        float,
        typer.Option(
            help="Margin the scores' CLV was computed with (train --margin; 1.0: revenue).",
            min=0,
            max=1,
        ),
    ] = 1.0,
) -> None:
    """Show the acquisition cost (CAC) break-even, and which customers are expected to reach it."""
    scores = _read_scores(scores_path) if scores_path is not None else None
    result = cac_breakeven(
        acquisition_cost, order_value, margin, scores=scores, clv_margin=clv_margin
    )
    out.print(
        f"After the first order: {result.after_first_order:+,.2f} per customer "
        f"({order_value:g} x {margin:.0%} - {acquisition_cost:g})",
        soft_wrap=True,
    )
    needed = result.repeat_purchases_to_break_even
    out.print(
        "Repeat purchases to pay it back: "
        + ("none: a repeat purchase earns nothing" if needed is None else f"{needed}"),
        soft_wrap=True,
    )
    if result.share_paying_back is not None:
        tiers = ", ".join(f"{t} {v:.0%}" for t, v in result.by_tier.items())
        out.print(
            f"Customers whose CLV covers the rest: {result.share_paying_back:.1%} of "
            f"{result.customers:,} (mean CLV {result.clv_mean:,.2f}, median "
            f"{result.clv_median:,.2f}){'; by tier: ' + tiers if tiers else ''}",
            soft_wrap=True,
        )


def _acquisition(
    acquisition_cost: float | None, order_value: float | None, margin: float
) -> dict[str, float] | None:
    """Return the CAC block's arguments, or None when neither option is given.

    Parameters
    ----------
    acquisition_cost, order_value : float or None
        ``--acquisition-cost`` and ``--order-value``.
    margin : float
        ``--margin``.

    Returns
    -------
    dict or None
        Keyword arguments of :func:`churnml.cac_breakeven`.

    Raises
    ------
    ConfigError
        Only one of the two options is given.
    """
    if acquisition_cost is None and order_value is None:
        return None
    if acquisition_cost is None or order_value is None:
        raise ConfigError("--acquisition-cost and --order-value go together; give both or neither")
    return {"acquisition_cost": acquisition_cost, "order_value": order_value, "margin": margin}


@app.command()
@with_loader_options
@friendly_errors
def report(
    transactions: TransactionsOpt,
    out_path: Annotated[Path, typer.Option("--out", help="Write the HTML report here.")],
    scores_path: Annotated[
        Path | None,
        typer.Option(
            "--scores",
            help="Scores CSV written by churnml score (default: score with the registered "
            "champion, if there is one).",
            show_default=False,
        ),
    ] = None,
    as_of: AsOfOpt = None,
    budget: Annotated[float, typer.Option(help="Budget of the recall section.", min=0)] = 100.0,
    cost_per_contact: Annotated[
        float, typer.Option(help="Cost of one contact in the recall section (> 0).")
    ] = 0.05,
    uplift: Annotated[
        float, typer.Option(help="Response uplift of a contact.", min=0, max=1)
    ] = DEFAULT_UPLIFT,
    margin: Annotated[
        float, typer.Option(help="Margin on revenue (1.0 counts revenue as profit).", min=0, max=1)
    ] = DEFAULT_MARGIN,
    acquisition_cost: Annotated[
        float | None,
        typer.Option(
            help="Add the CAC break-even block: cost of winning a customer (with --order-value).",
            min=0,
            show_default=False,
        ),
    ] = None,
    order_value: Annotated[
        float | None,
        typer.Option(help="First order value of the CAC block.", min=0, show_default=False),
    ] = None,
    experiment: Annotated[
        str, typer.Option(help="MLflow experiment holding the evaluation to show.")
    ] = EXPERIMENT,
    model_name: ModelNameOpt = REGISTERED_MODEL,
    loader: dict[str, Any] | None = None,
) -> None:
    """Write one self-contained HTML report for campaign planners (it opens with no network).

    Repeat rate over time, cohort retention, segments and value, CLV, the latest evaluation's
    gains and calibration, the profit curve and the top of the recall list.
    """
    acquisition = _acquisition(acquisition_cost, order_value, margin)
    tx = _load(transactions, as_of=as_of, report=False, **(loader or {}))
    scores = _read_scores(scores_path) if scores_path is not None else None
    with model_warnings_shown_below():
        result = write_report(
            tx,
            out_path,
            scores=scores,
            as_of=as_of,
            experiment=experiment,
            model_name=model_name,
            budget=budget,
            cost_per_contact=cost_per_contact,
            uplift=uplift,
            margin=margin,
            acquisition=acquisition,
        )
    for note in result.notes:
        err.print(f"[yellow]Note:[/] {escape(note)}", soft_wrap=True)
    size = result.path.stat().st_size / 1e6
    out.print(
        f"Report ({len(result.charts)} charts: {', '.join(result.charts)}; {size:.1f} MB, "
        f"opens offline) written to {result.path}",
        soft_wrap=True,
    )


class SampleKind(StrEnum):
    """Bundled data sets."""

    cdnow = "cdnow"
    synthetic = "synthetic"
    retail = "retail"


@app.command("sample-data")
@friendly_errors
def sample_data(
    kind: Annotated[
        SampleKind,
        typer.Argument(
            help="cdnow (real, bundled), synthetic (one row per purchase) or retail (order "
            "lines with products, channels, returns and a season)."
        ),
    ],
    out_path: Annotated[
        Path, typer.Option("--out", help="Where to write: CSV, or Parquet for a .parquet name.")
    ],
    customers: Annotated[
        int, typer.Option(help="synthetic, retail: number of customers.", min=1)
    ] = 10_000,
    seed: Annotated[int, typer.Option(help="synthetic, retail: random seed.")] = 0,
) -> None:
    """Write a bundled or simulated transaction log, in the columns churnml reads by default."""
    if kind is SampleKind.cdnow:
        frame = load_cdnow()
    else:
        simulate = simulate_retail_log if kind is SampleKind.retail else simulate_transactions
        with err.status(f"Simulating {customers:,} customers"):
            frame, _ = simulate(customers, seed=seed)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if out_path.suffix.lower() == ".parquet":
        frame.to_parquet(out_path, index=False)
    else:
        frame.to_csv(out_path, index=False, date_format="%Y-%m-%d %H:%M:%S")
    err.print(f"Wrote {len(frame):,} lines to {out_path}")


@app.command()
@friendly_errors
def demo(
    out_dir: Annotated[
        Path | None, typer.Option(help="Output folder. Default: <models dir>/demo.")
    ] = None,
    models: Annotated[
        str, typer.Option(help="Model families to compare (fewer is faster).")
    ] = ",".join(MODEL_KEYS),
) -> None:
    """Run churnml end to end on the bundled CDNOW log and say where the outputs went.

    Describes the log; evaluates every model out of time (fit on 1997, score the first half of
    1998); trains on the whole log (backtest, champion, registered as model 'churnml-demo' in
    MLflow, so your own 'churnml' champion is never touched); scores every customer.
    """
    with model_warnings_shown_below(), err.status("Running the demo") as status:
        result = run_demo(out_dir, models=_names(models), on_step=lambda m: status.update(m))
    print_summary(result.summary)
    print_evaluation(result.evaluation)
    _print_training(result.training)
    scoring = result.scoring
    _print_scoring(
        scoring.scores["segment"].value_counts(),
        len(scoring.scores),
        scoring.model_version,
        scoring.family,
        scoring.meta["as_of"],
        result.scores_csv,
    )
    uri = result.tracking_uri
    out.print(
        f"\nTransactions (CSV): {result.transactions_csv}\n"
        f"Data summary (JSON): {result.summary_json}\n"
        f"Out-of-time metrics (JSON): {result.metrics_json}\nPlots: {result.plots_dir}\n"
        f"MLflow runs: evaluate {result.evaluate_run_id}, train {result.train_run_id} "
        f"(experiment {DEMO_MODEL!r} in {uri})\n"
        f"Registered model: {DEMO_MODEL} version {result.version}\n"
        f"Scores (CSV, {len(scoring.scores):,} customers): {result.scores_csv}\n"
        f"Report (HTML, opens offline): {result.report_html}",
        soft_wrap=True,
    )
    out.print(
        f"Next: mlflow ui --backend-store-uri {uri}   (then open http://127.0.0.1:5000)\n"
        f"      churnml score --transactions {result.transactions_csv} --as-of 1998-06-30 "
        f"--model-name {DEMO_MODEL} --out my-scores.csv",
        soft_wrap=True,
    )


def _version(value: bool) -> None:
    if value:
        out.print(f"churnml {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = None,
) -> None:
    """Predict repurchase, customer lifetime value and next-purchase timing from orders."""


def main() -> None:
    """Entry point of the ``churnml`` console script."""
    app()
