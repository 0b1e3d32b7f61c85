"""The recall list: whom to contact first under a budget, from the current snapshot."""

from __future__ import annotations

from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Query, Response
from fastapi.exceptions import RequestValidationError

from churnml import ConfigError, plan_recall
from churnml.campaign import DEFAULT_MARGIN, DEFAULT_UPLIFT
from serve.deps import SnapshotDep
from serve.schemas import ErrorResponse, RecallResponse, ValidationErrorResponse

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["recall"])

# the lifecycle segments of churnml.segments, spelled out so the schema lists them
Segment = Literal["new", "active", "warm", "high_recall", "low_recall", "lost"]


@router.get(
    "/recall",
    summary="Ranked recall list from the current snapshot, cut at the budget",
    responses={
        401: {"model": ErrorResponse, "description": "Missing or invalid X-API-Key."},
        422: {"model": ValidationErrorResponse, "description": "A parameter is invalid."},
        503: {"model": ErrorResponse, "description": "No snapshot loaded yet."},
    },
)
def get_recall(
    snapshot: SnapshotDep,
    budget: Annotated[
        float, Query(ge=0, allow_inf_nan=False, description="Money to spend.", examples=[100])
    ],
    cost_per_contact: Annotated[
        float,
        Query(gt=0, allow_inf_nan=False, description="Cost of one contact.", examples=[0.05]),
    ],
    segment: Annotated[
        list[Segment] | None,
        Query(
            description="Only these segments (repeat the parameter for several).",
            examples=[["high_recall"]],
        ),
    ] = None,
    limit: Annotated[
        int | None, Query(gt=0, le=100_000, description="At most this many rows.", examples=[500])
    ] = None,
    uplift: Annotated[
        float,
        Query(
            ge=0,
            le=1,
            allow_inf_nan=False,
            description="Response uplift of a contact: share of reachable customers who would "
            "not have bought and buy because of it.",
            examples=[DEFAULT_UPLIFT],
        ),
    ] = DEFAULT_UPLIFT,
    margin: Annotated[
        float,
        Query(
            ge=0,
            le=1,
            allow_inf_nan=False,
            description="Margin on revenue (1 counts revenue as profit).",
            examples=[0.3],
        ),
    ] = DEFAULT_MARGIN,
    include_likely_buyers: Annotated[
        bool,
        Query(description="Keep customers likely to buy anyway (p_repurchase >= 0.7)."),
    ] = False,
    stop_at_peak: Annotated[
        bool, Query(description="Stop where the expected profit peaks, even below the budget.")
    ] = False,
) -> RecallResponse:
    """Customers worth contacting, best first, until the budget is spent.

    Customers at risk (segments warm, high_recall, low_recall unless `segment` says otherwise)
    are ranked by the expected profit of a contact: uplift x P(alive) x (1 - p_repurchase) x
    margin x order value - cost, the same ranking as `churnml recall` and
    `churnml.plan_recall`. The answer gives the ROI and where the profit curve peaks.
    """
    try:
        plan = plan_recall(
            snapshot.frame,
            budget=budget,
            cost_per_contact=cost_per_contact,
            segment=segment,
            limit=limit,
            horizon_days=snapshot.snapshot.horizon_days,
            uplift=uplift,
            margin=margin,
            include_likely_buyers=include_likely_buyers,
            stop_at_peak=stop_at_peak,
        )
    except ConfigError as exc:
        # the parameters were checked above; what is left is about their combination
        raise RequestValidationError(
            [{"loc": ("query",), "msg": str(exc), "type": "value_error"}]
        ) from None
    ranked = plan.contacts
    rows = ranked.astype(object).where(ranked.notna(), None).to_dict("records")
    figures = plan.to_dict()
    body = {
        "snapshot_id": snapshot.snapshot.id,
        "model_version": snapshot.snapshot.model_version,
        "budget": budget,
        "cost_per_contact": cost_per_contact,
        "n_selected": len(rows),
        # the list's own running total, summed in decimal as the budget was cut
        "total_cost": plan.cost,
        "uplift": plan.uplift,
        "margin": plan.margin,
        "expected_margin": figures["expected_margin"],
        "expected_profit": figures["expected_profit"],
        "roi": figures["roi"],
        "candidates": plan.candidates,
        "excluded": plan.excluded,
        "peak_contacts": plan.peak_contacts,
        "peak_cost": figures["peak_cost"],
        "peak_profit": figures["peak_profit"],
        "customers": rows,
    }
    return Response(
        orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY, default=str),
        media_type="application/json",
    )
