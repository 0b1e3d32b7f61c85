"""Liveness, readiness and Prometheus metrics: no key needed, nothing secret in them."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from serve.deps import ServingDep
from serve.metrics import metrics_text
from serve.schemas import Health, Readiness
from serve.state import Serving

__all__ = ["readiness", "router"]

router = APIRouter(tags=["health"])


def readiness(serving: Serving) -> Readiness:
    """Whether a model and a snapshot are loaded, and what failed.

    Parameters
    ----------
    serving : Serving
        What is being served.

    Returns
    -------
    Readiness
        Ready flag, what is served, and the problems.
    """
    problems = []
    if serving.model_error:
        problems.append(f"model: {serving.model_error}")
    elif serving.model is None:
        problems.append("model: not loaded yet")
    if serving.snapshot_error:
        problems.append(f"snapshot: {serving.snapshot_error}")
    elif serving.snapshot is None:
        problems.append("snapshot: not loaded yet")
    return Readiness(
        ready=serving.ready,
        model_version=serving.model.label if serving.model else None,
        snapshot_id=serving.snapshot.snapshot.id if serving.snapshot else None,
        problems=problems,
    )


@router.get("/healthz", summary="Liveness")
async def healthz() -> Health:
    """Answer while the process is up."""
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="Readiness: model and current snapshot loaded, or why not",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready; `problems` says why."}},
)
async def readyz(serving: ServingDep) -> Response:
    """200 when a model and a snapshot are loaded, else 503 with the reasons.

    A failed reload that left the old objects serving is still ready, and its problem is listed.
    """
    state = readiness(serving)
    return JSONResponse(state.model_dump(), status_code=200 if state.ready else 503)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}},
)
async def metrics(serving: ServingDep) -> Response:
    """Request counts, latency histograms, the model version and the snapshot's age."""
    body, content_type = metrics_text(serving)
    return Response(body, media_type=content_type)
