"""The recall list: whom to contact first under a budget, from the current snapshot."""

from __future__ import annotations

from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Query, Response
from fastapi.exceptions import RequestValidationError

from churnml import ConfigError, recall_list
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
) -> RecallResponse:
    """Customers worth contacting, best first, until the budget is spent.

    Until campaign planning lands, customers at risk (segments warm, high_recall, low_recall)
    are ranked by the expected value of a return purchase; see ``churnml.recall_list``.
    """
    try:
        ranked = recall_list(
            snapshot.frame,
            budget=budget,
            cost_per_contact=cost_per_contact,
            segment=segment,
            limit=limit,
            horizon_days=snapshot.snapshot.horizon_days,
        )
    except ConfigError as exc:
        # the parameters were checked above; what is left is about their combination
        raise RequestValidationError(
            [{"loc": ("query",), "msg": str(exc), "type": "value_error"}]
        ) from None
    rows = ranked.astype(object).where(ranked.notna(), None).to_dict("records")
    body = {
        "snapshot_id": snapshot.snapshot.id,
        "model_version": snapshot.snapshot.model_version,
        "budget": budget,
        "cost_per_contact": cost_per_contact,
        "n_selected": len(rows),
        # the list's own running total, summed in decimal as the budget was cut
        "total_cost": float(ranked["cumulative_cost"].iloc[-1]) if len(ranked) else 0.0,
        "customers": rows,
    }
    return Response(
        orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY, default=str),
        media_type="application/json",
    )
