"""Request and response models of the HTTP API, kept apart from churnml's frames.

Every field carries a description and an example, which is what ``/docs`` shows a CRM developer.
Requests forbid unknown fields, so a misspelt field is a 422 naming it rather than a silent
default.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

__all__ = [
    "CustomerHistory",
    "ErrorDetail",
    "ErrorResponse",
    "Health",
    "ModelInfo",
    "Readiness",
    "RecallResponse",
    "RecallRow",
    "ReloadResponse",
    "ScoreRequest",
    "ScoreResponse",
    "ScoreRow",
    "SnapshotInfo",
    "Transaction",
    "Unscored",
    "ValidationErrorResponse",
]

# Strict: JSON true is not 1, "90" is not 90. (Not strict on whole models: FastAPI validates
# the parsed JSON, where a date can only be a string.)
FiniteFloat = Annotated[float, Field(allow_inf_nan=False, strict=True)]
Text = Annotated[str, Field(min_length=1, max_length=256, strict=True)]


def _text_date(value: object) -> object:
    # pydantic reads a number as a Unix time; a date in this API is ISO 8601 text
    if not isinstance(value, str | dt.date):
        raise ValueError("expected an ISO 8601 date or timestamp as a string")
    return value


Day = Annotated[dt.date, BeforeValidator(_text_date)]
Moment = Annotated[dt.datetime | dt.date, BeforeValidator(_text_date)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Transaction(_Request):
    """One order (or order line) of a customer."""

    date: Moment = Field(
        description="Date or timestamp of the order (ISO 8601).", examples=["2024-03-05"]
    )
    amount: FiniteFloat = Field(
        description="Revenue of the row; negative for a return. NaN and infinity are refused.",
        examples=[42.5],
    )
    order_id: Text | None = Field(default=None, description="Order id.", examples=["A-1001"])
    product_id: Text | None = Field(default=None, description="Product id.", examples=["SKU-9"])
    quantity: FiniteFloat | None = Field(default=None, description="Units.", examples=[2])
    channel: Text | None = Field(default=None, description="Sales channel.", examples=["web"])


class CustomerHistory(_Request):
    """A customer's purchase history, as of the request's ``as_of``."""

    customer_id: Text = Field(
        description="Customer id, kept as text (leading zeros matter).", examples=["00042"]
    )
    transactions: list[Transaction] = Field(
        description=(
            "The customer's orders. An empty list is allowed: the customer is answered under "
            "`unscored` (no purchase to score), never with an error."
        ),
        examples=[[{"date": "2024-03-05", "amount": 42.5}, {"date": "2024-05-01", "amount": 17}]],
    )


class ScoreRequest(_Request):
    """Histories to score with the champion model."""

    as_of: Day = Field(
        description="Scoring date: orders after it are excluded and counted.",
        examples=["2024-06-30"],
    )
    horizon_days: int | None = Field(
        default=None,
        strict=True,
        gt=0,
        le=3650,
        description="Horizon of the probabilities and expectations (default: the model's).",
        examples=[90],
    )
    customers: list[CustomerHistory] = Field(
        description="One entry per customer; a customer id may appear once.",
        examples=[
            [
                {
                    "customer_id": "00042",
                    "transactions": [
                        {"date": "2024-03-05", "amount": 42.5},
                        {"date": "2024-05-01", "amount": 17.0},
                    ],
                }
            ]
        ],
    )

    @field_validator("customers")
    @classmethod
    def _unique_customers(cls, customers: list[CustomerHistory]) -> list[CustomerHistory]:
        first: dict[str, int] = {}
        for i, c in enumerate(customers):
            if c.customer_id in first:
                earlier = first[c.customer_id]
                raise ValueError(
                    f"customer_id {c.customer_id!r} appears twice (customers[{earlier}] and "
                    f"customers[{i}]); send each customer's orders in one entry"
                )
            first[c.customer_id] = i
        return customers


class ScoreRow(BaseModel):
    """One customer's scores (contract section 3), plus any further model columns."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "description": (
                "Contract columns, then further model columns where the model has them: "
                "timing quantiles (`days_to_next_p10`...), `p_buy_<n>d`, `reasons` (LightGBM)."
            )
        },
    )

    customer_id: str = Field(description="As in the input.", examples=["00042"])
    p_alive: float | None = Field(
        description="Probability the customer is still active at as-of.", examples=[0.83]
    )
    p_repurchase: float | None = Field(
        description="Probability of at least one purchase in (as-of, as-of + horizon].",
        examples=[0.41],
    )
    expected_purchases: float | None = Field(
        description="Expected number of purchases in the horizon.", examples=[0.62]
    )
    expected_revenue: float | None = Field(
        description="Expected revenue in the horizon (currency of the input).", examples=[18.4]
    )
    clv: float | None = Field(
        description="Discounted expected margin over the CLV horizon.", examples=[12.9]
    )
    expected_days_to_next_purchase: float | None = Field(
        description="Expected days to the next purchase, given one happens in the horizon.",
        examples=[37.5],
    )
    next_purchase_date: str | None = Field(
        description="as-of + expected days to the next purchase (ISO date).",
        examples=["2024-08-06"],
    )
    segment: str | None = Field(
        description="Lifecycle segment: new, active, warm, high_recall, low_recall, lost.",
        examples=["active"],
    )
    value_tier: str | None = Field(
        description="gold (top 20 % by CLV), silver (next 30 %), bronze.", examples=["silver"]
    )
    model_version: str = Field(
        description="Registry version that produced the row.", examples=["churnml/3"]
    )


class Unscored(BaseModel):
    """A posted customer who gets no score, and why."""

    customer_id: str = Field(examples=["00043"], description="As posted.")
    reason: str = Field(
        description="Why there is no score.",
        examples=["no purchase with a positive net amount up to as_of"],
    )


class ScoreResponse(BaseModel):
    """Scores of posted histories."""

    model_version: str = Field(description="Model that scored.", examples=["churnml/3"])
    as_of: dt.date = Field(description="Scoring date.", examples=["2024-06-30"])
    horizon_days: int = Field(description="Horizon used.", examples=[90])
    scores: list[ScoreRow] = Field(description="One row per scored customer.")
    unscored: list[Unscored] = Field(description="Posted customers with no score.")
    excluded_rows: dict[str, int] = Field(
        description="Posted orders left out of scoring, counted by reason.",
        examples=[{"after_as_of": 1}],
    )


class SnapshotInfo(BaseModel):
    """The score snapshot being served."""

    id: int = Field(description="Snapshot number.", examples=[7])
    model_version: str = Field(description="Model that produced it.", examples=["churnml/3"])
    as_of: str = Field(description="Scoring date of the snapshot.", examples=["2024-06-30"])
    horizon_days: int = Field(description="Horizon of its scores.", examples=[90])
    created_at: dt.datetime = Field(
        description="When it was published (UTC).", examples=["2024-07-01T03:00:00Z"]
    )
    n_rows: int = Field(description="Customers in it.", examples=[23502])
    age_seconds: float = Field(description="Seconds since it was published.", examples=[3600])


class ModelInfo(BaseModel):
    """The model being served and the snapshot beside it."""

    name: str | None = Field(description="Registered model name.", examples=["churnml"])
    version: str | None = Field(description="Registry version.", examples=["3"])
    label: str = Field(description="What score rows record.", examples=["churnml/3"])
    run_id: str | None = Field(description="MLflow run that trained it.", examples=["4b1e..."])
    family: str | None = Field(description="Model family.", examples=["gbm"])
    trained_at: str | None = Field(
        description="When the version was registered (ISO 8601).",
        examples=["2024-07-01T02:00:00+00:00"],
    )
    data_as_of: str | None = Field(
        description="Last date of the training data.", examples=["2024-06-30"]
    )
    horizon_days: int | None = Field(description="Trained horizon.", examples=[90])
    metrics: dict[str, float] = Field(
        description=(
            "Out-of-time backtest metrics of the served family, measured by train before it "
            "registered the version (AUC, revenue Gini, buyers and revenue ratios, ...)."
        ),
        examples=[{"auc": 0.79, "revenue_gini": 0.72, "buyers_ratio": 0.99}],
    )
    backtest_cutoff: str | None = Field(
        default=None,
        description="Cutoff of that backtest: trained up to it, scored on the horizon after.",
        examples=["2024-04-01"],
    )
    snapshot: SnapshotInfo | None = Field(description="Current score snapshot, if loaded.")


class Health(BaseModel):
    """Liveness."""

    status: str = Field(description="Always `ok` while the process answers.", examples=["ok"])


class Readiness(BaseModel):
    """Whether the service can answer score requests, and why not."""

    ready: bool = Field(description="A model and a snapshot are loaded.", examples=[True])
    model_version: str | None = Field(description="Model served.", examples=["churnml/3"])
    snapshot_id: int | None = Field(description="Snapshot served.", examples=[7])
    problems: list[str] = Field(
        description="What is missing or failed to load (the old objects keep serving).",
        examples=[[]],
    )


class RecallRow(BaseModel):
    """One customer to contact."""

    model_config = ConfigDict(extra="allow")

    rank: int = Field(description="1 = contact first.", examples=[1])
    customer_id: str = Field(description="Customer id.", examples=["00042"])
    segment: str | None = Field(description="Lifecycle segment.", examples=["high_recall"])
    p_won_back: float | None = Field(
        description="uplift x P(alive) x (1 - p_repurchase): probability the contact brings a "
        "purchase that would not have happened.",
        examples=[0.03],
    )
    expected_profit: float | None = Field(
        description="Expected margin the contact brings back, less its cost.", examples=[1.42]
    )
    expected_value: float | None = Field(
        description="Former name of expected_profit (kept for one release).", examples=[1.42]
    )
    cost: float = Field(description="Cost of the contact.", examples=[0.05])
    cumulative_cost: float = Field(description="Cost up to this row.", examples=[0.05])
    cumulative_profit: float = Field(description="Expected profit up to this row.", examples=[1.42])
    reason: str = Field(
        description="Why this customer, in plain words.",
        examples=[
            "high_recall, 132 days since last purchase, 2.1x their 63-day cycle, buys on "
            "their own 12% in 90 d, P(alive) 0.69, a return is worth 38.90"
        ],
    )


class RecallResponse(BaseModel):
    """A ranked recall list from the current snapshot."""

    snapshot_id: int = Field(description="Snapshot ranked.", examples=[7])
    model_version: str = Field(description="Model of the snapshot.", examples=["churnml/3"])
    budget: float = Field(description="Budget given.", examples=[100.0])
    cost_per_contact: float = Field(description="Cost per contact given.", examples=[0.05])
    n_selected: int = Field(description="Customers in the list.", examples=[2000])
    total_cost: float = Field(description="Cost of contacting them all.", examples=[100.0])
    uplift: float = Field(description="Response uplift assumed.", examples=[0.05])
    margin: float = Field(description="Margin on revenue assumed.", examples=[0.3])
    expected_margin: float = Field(
        description="Expected margin the list brings back beyond what would come anyway.",
        examples=[900.0],
    )
    expected_profit: float = Field(description="expected_margin - total_cost.", examples=[800.0])
    roi: float | None = Field(
        description="expected_profit / total_cost (null for an empty list).", examples=[8.0]
    )
    candidates: int = Field(description="Customers eligible for the list.", examples=[6101])
    excluded: dict[str, int] = Field(
        description="Customers not eligible, by reason.",
        examples=[{"segment not recalled": 17296}],
    )
    peak_contacts: int = Field(
        description="Number of contacts where the expected profit peaks (budget or not).",
        examples=[6035],
    )
    peak_cost: float = Field(description="Cost at the peak.", examples=[301.75])
    peak_profit: float = Field(description="Expected profit at the peak.", examples=[5015.8])
    customers: list[RecallRow] = Field(description="Ranked, best first.")


class ReloadResponse(BaseModel):
    """What a reload did."""

    model: str = Field(description="loaded, unchanged or error.", examples=["loaded"])
    snapshot: str = Field(description="loaded, unchanged or error.", examples=["unchanged"])
    readiness: Readiness = Field(description="Readiness after the reload.")


class ErrorResponse(BaseModel):
    """An error: what went wrong, and the request id to quote."""

    detail: str = Field(description="What went wrong.", examples=["invalid or missing X-API-Key"])
    request_id: str | None = Field(
        default=None,
        description="The request's X-Request-ID, to quote when asking about it.",
        examples=["5f0c2b7e9d3a4c1f8e6b0a2d4c6e8f01"],
    )


class ErrorDetail(BaseModel):
    """One invalid field."""

    field: str = Field(
        description="Where, as a path.", examples=["customers[0].transactions[1].amount"]
    )
    loc: list[str | int] = Field(
        description="The same path as a list.", examples=[["body", "as_of"]]
    )
    msg: str = Field(description="What was expected.", examples=["Input should be a finite number"])
    type: str = Field(description="Error type.", examples=["finite_number"])


class ValidationErrorResponse(BaseModel):
    """A request that failed validation (422)."""

    detail: list[ErrorDetail] = Field(description="Every invalid field.")
    request_id: str | None = Field(
        default=None,
        description="The request's X-Request-ID, to quote when asking about it.",
        examples=["5f0c2b7e9d3a4c1f8e6b0a2d4c6e8f01"],
    )
