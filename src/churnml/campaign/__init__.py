"""Campaign planning over transactions and score tables: rates, cohorts, reminders, recall.

Pure functions (no model, no I/O): repeat-purchase rates and the purchase cycle, rates by
month and first-purchase cohorts (:mod:`~churnml.campaign.rates`), segment and tier tables
with suggested actions (:mod:`~churnml.campaign.overview`), purchase-cycle reminders
(:mod:`~churnml.campaign.cycles`), recall lists by expected profit under a budget
(:mod:`~churnml.campaign.recall`) and the acquisition-cost break-even
(:mod:`~churnml.campaign.acquisition`).
"""

from churnml.campaign.acquisition import Breakeven, cac_breakeven
from churnml.campaign.cycles import (
    CYCLE_COLUMNS,
    DEFAULT_PRIOR_GAPS,
    REMINDER_COLUMNS,
    customer_cycles,
    reminders,
    scores_as_of,
)
from churnml.campaign.overview import segment_overview, value_tier_overview
from churnml.campaign.rates import (
    REPEAT_RATE_RANGE,
    REPEAT_RATE_TARGET,
    CohortRetention,
    RepeatRates,
    cohort_retention,
    monthly_repeat_rates,
    purchase_gaps,
    repeat_purchase_rates,
)
from churnml.campaign.recall import (
    DEFAULT_LIKELY_BUYER,
    DEFAULT_MARGIN,
    DEFAULT_UPLIFT,
    RECALL_COLUMNS,
    RECALL_SEGMENTS,
    RecallPlan,
    plan_recall,
    recall_list,
)

__all__ = [
    "CYCLE_COLUMNS",
    "DEFAULT_LIKELY_BUYER",
    "DEFAULT_MARGIN",
    "DEFAULT_PRIOR_GAPS",
    "DEFAULT_UPLIFT",
    "RECALL_COLUMNS",
    "RECALL_SEGMENTS",
    "REMINDER_COLUMNS",
    "REPEAT_RATE_RANGE",
    "REPEAT_RATE_TARGET",
    "Breakeven",
    "CohortRetention",
    "RecallPlan",
    "RepeatRates",
    "cac_breakeven",
    "cohort_retention",
    "customer_cycles",
    "monthly_repeat_rates",
    "plan_recall",
    "purchase_gaps",
    "recall_list",
    "reminders",
    "repeat_purchase_rates",
    "scores_as_of",
    "segment_overview",
    "value_tier_overview",
]
