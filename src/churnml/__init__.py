"""churnml: repurchase probability, CLV and next-purchase timing from transaction logs.

The public API, in the order a data scientist meets it:

- read and validate: :func:`load_transactions` (one or several files or frames),
  :func:`load_cdnow`, :func:`simulate_transactions`, :func:`simulate_retail_log`,
  :func:`describe`;
- models: :class:`BTYDScorer`, :class:`GBMScorer`, :class:`BlendScorer`,
  :class:`RateBaselineScorer`, built by key with :func:`make_scorer` from the
  :data:`CATALOGUE`; :func:`score_with` turns a fitted one into the contract's score table;
- runs tracked in MLflow: :func:`evaluate` (out of time), :func:`train` (backtest, champion,
  registry), :func:`score` (with the registry's champion), :func:`list_versions`,
  :func:`promote`, :func:`rollback`, and :func:`run_demo`;
- serving: :func:`load_model` (a registered model, loaded without running stored code) and
  :func:`model_version_of`; the score store (:class:`ScoreStore`): :func:`publish_scores`,
  :func:`list_snapshots`, :func:`activate_snapshot`;
- campaign planning: :func:`repeat_purchase_rates` (both definitions, with the purchase
  cycle), :func:`monthly_repeat_rates`, :func:`cohort_retention`, :func:`segment_overview`
  and :func:`value_tier_overview` (sizes, value, suggested actions), :func:`reminders` (who
  is due by their purchase cycle), :func:`plan_recall` and :func:`recall_list` (ranked by
  the expected profit of a contact, cut at a budget, with the ROI and the profit curve),
  :func:`cac_breakeven`, and :func:`write_report` (one self-contained HTML report);
- settings: :class:`RunSettings`, :class:`ValueSettings`, :class:`SegmentRules`,
  :class:`ColumnMap`, :class:`ValidationPolicy`.

Examples
--------
>>> import churnml
>>> tx = churnml.load_transactions(churnml.load_cdnow())
>>> tx.report.n_input, tx.report.n_kept
(69659, 69579)
"""

from churnml._version import __version__
from churnml.campaign import (
    Breakeven,
    CohortRetention,
    RecallPlan,
    RepeatRates,
    cac_breakeven,
    cohort_retention,
    monthly_repeat_rates,
    plan_recall,
    recall_list,
    reminders,
    repeat_purchase_rates,
    segment_overview,
    value_tier_overview,
)
from churnml.config import DEFAULT_SCORE_STORE, REGISTERED_MODEL, ColumnMap, ValidationPolicy
from churnml.data import (
    ValidatedTransactions,
    ValidationReport,
    load_cdnow,
    load_transactions,
    simulate_retail_log,
    simulate_transactions,
)
from churnml.evaluation import Evaluation
from churnml.exceptions import (
    ChurnmlError,
    ChurnmlWarning,
    ConfigError,
    DataFileError,
    DataValidationError,
    InsufficientDataError,
    ModelFitError,
    NotFittedError,
)
from churnml.models import (
    CATALOGUE,
    FAMILIES,
    MODEL_KEYS,
    BaseScorer,
    BlendScorer,
    BTYDScorer,
    GBMScorer,
    RateBaselineScorer,
    make_scorer,
)
from churnml.scoring import CONTRACT_COLUMNS, score_with
from churnml.settings import RunSettings, SegmentRules, ValueSettings
from churnml.store import ScoreStore, Snapshot
from churnml.summary import DataSummary, describe
from churnml.workflows import (
    DemoResult,
    LoadedModel,
    ReportResult,
    ScoreResult,
    TrainResult,
    activate_snapshot,
    evaluate,
    list_snapshots,
    list_versions,
    load_model,
    model_version_of,
    promote,
    publish_scores,
    rollback,
    run_demo,
    score,
    train,
    write_report,
)

__all__ = [
    "ReportResult",
    "write_report",
    "value_tier_overview",
    "segment_overview",
    "repeat_purchase_rates",
    "reminders",
    "plan_recall",
    "monthly_repeat_rates",
    "cohort_retention",
    "cac_breakeven",
    "RepeatRates",
    "RecallPlan",
    "CohortRetention",
    "Breakeven",
    "CATALOGUE",
    "CONTRACT_COLUMNS",
    "DEFAULT_SCORE_STORE",
    "FAMILIES",
    "MODEL_KEYS",
    "REGISTERED_MODEL",
    "BTYDScorer",
    "BaseScorer",
    "ChurnmlError",
    "ChurnmlWarning",
    "BlendScorer",
    "ColumnMap",
    "ConfigError",
    "DataFileError",
    "DataSummary",
    "DataValidationError",
    "DemoResult",
    "Evaluation",
    "GBMScorer",
    "InsufficientDataError",
    "LoadedModel",
    "ModelFitError",
    "NotFittedError",
    "RateBaselineScorer",
    "RunSettings",
    "ScoreResult",
    "ScoreStore",
    "SegmentRules",
    "Snapshot",
    "TrainResult",
    "ValidatedTransactions",
    "ValidationPolicy",
    "ValidationReport",
    "ValueSettings",
    "__version__",
    "activate_snapshot",
    "describe",
    "evaluate",
    "list_snapshots",
    "list_versions",
    "load_cdnow",
    "load_model",
    "load_transactions",
    "make_scorer",
    "model_version_of",
    "promote",
    "publish_scores",
    "recall_list",
    "rollback",
    "run_demo",
    "score",
    "score_with",
    "simulate_retail_log",
    "simulate_transactions",
    "train",
]
