"""Scores: the model served, one customer's row from the snapshot, and scoring posted histories."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Annotated

import orjson
import pandas as pd
from fastapi import APIRouter, HTTPException, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from churnml import DataValidationError, InsufficientDataError, load_transactions
from serve.deps import ModelDep, ServingDep, SettingsDep
from serve.lookup import MAX_ID_LENGTH, find_row
from serve.schemas import (
    ErrorResponse,
    ModelInfo,
    ScoreRequest,
    ScoreResponse,
    ScoreRow,
    SnapshotInfo,
    ValidationErrorResponse,
)
from serve.settings import ServeSettings
from serve.state import ModelState, SnapshotState

__all__ = ["SCORE_REQUEST_REF", "parse_score_request", "router", "snapshot_info"]

router = APIRouter(prefix="/v1", tags=["scores"])

SCORE_REQUEST_REF = "#/components/schemas/ScoreRequest"

_ERRORS = {
    401: {"model": ErrorResponse, "description": "Missing or invalid X-API-Key."},
    503: {"model": ErrorResponse, "description": "No model or snapshot loaded yet."},
}
_NO_PURCHASE = "no purchase with a positive net amount up to as_of"


def snapshot_info(state: SnapshotState) -> SnapshotInfo:
    """Describe a loaded snapshot.

    Parameters
    ----------
    state : SnapshotState
        The loaded snapshot.

    Returns
    -------
    SnapshotInfo
        Its number, model, dates, size and age.
    """
    s = state.snapshot
    return SnapshotInfo(
        id=s.id,
        model_version=s.model_version,
        as_of=s.as_of,
        horizon_days=s.horizon_days,
        created_at=s.created_at,
        n_rows=s.n_rows,
        age_seconds=max(0.0, time.time() - state.created_ts),
    )


@router.get("/model", summary="The model being served", responses=_ERRORS)
async def model_info(model: ModelDep, serving: ServingDep) -> ModelInfo:
    """Name, version, run, training dates and backtest metrics, and the current snapshot."""
    loaded = model.model
    meta = loaded.meta
    backtest = meta.get("backtest") or {}
    family = meta.get("family")
    # the served family's out-of-time metrics, from the backtest train ran before registering
    metrics = (backtest.get("models") or {}).get(family) or {}
    snapshot = serving.snapshot
    return ModelInfo(
        name=loaded.name,
        version=loaded.version,
        label=loaded.label,
        run_id=loaded.run_id,
        family=family,
        trained_at=loaded.trained_at,
        data_as_of=str(meta["as_of"])[:10] if meta.get("as_of") else None,
        horizon_days=meta.get("horizon_days"),
        metrics={k: v for k, v in metrics.items() if isinstance(v, int | float)},
        backtest_cutoff=backtest.get("cutoff"),
        snapshot=snapshot_info(snapshot) if snapshot else None,
    )


@router.get(
    "/customers/{customer_id:path}/scores",
    summary="One customer's scores from the current snapshot",
    response_model=ScoreRow,
    responses={
        **_ERRORS,
        404: {"model": ErrorResponse, "description": "The customer is not in the snapshot."},
    },
)
async def customer_scores(
    customer_id: Annotated[
        str,
        Path(
            min_length=1, max_length=MAX_ID_LENGTH, description="Customer id.", examples=["00042"]
        ),
    ],
    serving: ServingDep,
) -> Response:
    """The contract's score row for one customer, as published in the current snapshot.

    The header ``X-Snapshot-Id`` names the snapshot the row came from. (The server answers
    this route on a lean path, :class:`serve.lookup.FastLookup`, with the same checks and
    answers; this route documents it and is its reference implementation in the tests.)
    """
    status, body, snapshot_id = find_row(serving, customer_id)
    if status != 200:
        headers = {"x-snapshot-id": str(snapshot_id)} if snapshot_id is not None else None
        raise HTTPException(status, body, headers=headers)
    # serialised once when the snapshot loaded: the lookup is a dict get
    return Response(
        body, media_type="application/json", headers={"x-snapshot-id": str(snapshot_id)}
    )


def _day(value: dt.date) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _frame(request: ScoreRequest) -> pd.DataFrame:
    rows = [
        (
            c.customer_id,
            t.date.isoformat(),
            t.amount,
            t.order_id,
            t.product_id,
            t.quantity,
            t.channel,
        )
        for c in request.customers
        for t in c.transactions
    ]
    columns = ["customer_id", "date", "amount", "order_id", "product_id", "quantity", "channel"]
    frame = pd.DataFrame(rows, columns=columns)
    # optional columns nobody sent stay out, as they would be absent from a CSV
    return frame.dropna(axis=1, how="all") if len(frame) else frame[columns[:3]]


def parse_score_request(body: bytes, settings: ServeSettings) -> ScoreRequest:
    """Parse and validate a ``POST /v1/scores`` body, counting the batch first.

    Runs in a worker thread: a large body parsed on the event loop would hold up every lookup
    on that worker while it lasts.

    Parameters
    ----------
    body : bytes
        The raw request body.
    settings : ServeSettings
        The batch limits.

    Returns
    -------
    ScoreRequest
        The validated request.

    Raises
    ------
    fastapi.exceptions.RequestValidationError
        The body is not JSON or does not fit the schema (answered 422, field by field).
    fastapi.HTTPException
        Too many customers or orders (413), counted before validation.
    """
    try:
        # the standard parser, as FastAPI's: NaN and 1e999 parse, and are refused by the schema
        # at the field that holds them
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": f"JSON decode error: {detail}"}]
        ) from None
    customers = data.get("customers") if isinstance(data, dict) else None
    if isinstance(customers, list):
        if len(customers) > settings.max_batch_customers:
            raise HTTPException(
                413,
                f"{len(customers)} customers in one request; the limit is "
                f"{settings.max_batch_customers}",
            )
        n_orders = sum(
            len(c["transactions"])
            for c in customers
            if isinstance(c, dict) and isinstance(c.get("transactions"), list)
        )
        if n_orders > settings.max_batch_transactions:
            raise HTTPException(
                413,
                f"{n_orders} transactions in one request; the limit is "
                f"{settings.max_batch_transactions}",
            )
    try:
        return ScoreRequest.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        ) from None


@router.post(
    "/scores",
    summary="Score posted purchase histories with the model being served",
    responses={
        **_ERRORS,
        413: {"model": ErrorResponse, "description": "Too many customers, orders or bytes."},
        422: {"model": ValidationErrorResponse, "description": "A field is invalid."},
    },
    # the body is read raw and validated in a thread (parse_score_request); the schema is
    # ScoreRequest's, added to the components by serve.app
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": SCORE_REQUEST_REF}}},
        }
    },
)
async def post_scores(raw: Request, model: ModelDep, settings: SettingsDep) -> ScoreResponse:
    """Score each posted customer as of ``as_of`` with the model being served.

    Orders dated after ``as_of`` are excluded and counted in ``excluded_rows``, as are invalid
    or duplicate orders. A customer with no purchase of positive net amount up to ``as_of``
    (an empty history included) is listed under ``unscored`` with the reason.
    """
    body = await raw.body()
    return await run_in_threadpool(_score, body, model, settings)


def _score(body: bytes, model: ModelState, settings: ServeSettings) -> Response:
    request = parse_score_request(body, settings)
    loaded = model.model
    horizon = request.horizon_days or loaded.settings.horizon_days
    as_of = pd.Timestamp(request.as_of)
    frame = _frame(request)
    scores = pd.DataFrame()
    excluded: dict[str, int] = {}
    if len(frame):
        try:
            tx = load_transactions(frame, as_of=as_of)
        except DataValidationError:
            # no valid order left, so no validation report: count what the report would
            tx = None
            after = sum(
                _day(t.date) > request.as_of for c in request.customers for t in c.transactions
            )
            excluded = {"after_as_of": after} if after else {}
            if len(frame) > after:
                excluded["invalid"] = len(frame) - after
        if tx is not None:
            excluded = {k: int(v) for k, v in tx.report.excluded.items() if v}
            try:
                # a posted customer without a purchase is listed as unscored, with the reason
                # (the API's contract), whether or not others in the request bought
                scores = loaded.score(tx, as_of, horizon, include_no_purchase=False)
            except InsufficientDataError:
                scores = pd.DataFrame()  # no purchase left to score: every customer is unscored
    scored = set(scores["customer_id"]) if len(scores) else set()
    unscored = [
        {
            "customer_id": c.customer_id,
            "reason": _NO_PURCHASE if c.transactions else "no transactions posted",
        }
        for c in request.customers
        if c.customer_id not in scored
    ]
    records = scores.astype(object).where(scores.notna(), None).to_dict("records")
    body = {
        "model_version": loaded.label,
        "as_of": request.as_of.isoformat(),
        "horizon_days": horizon,
        "scores": records,
        "unscored": unscored,
        "excluded_rows": excluded,
    }
    return Response(
        orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY, default=str),
        media_type="application/json",
    )
