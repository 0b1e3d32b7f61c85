"""Admin routes: reload the model and the snapshot now rather than at the next poll."""

from __future__ import annotations

from fastapi import APIRouter

from serve.deps import AdminKey, ServingDep
from serve.routers.health import readiness
from serve.schemas import ErrorResponse, ReloadResponse

__all__ = ["router"]

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[AdminKey])


@router.post(
    "/reload",
    summary="Load the current champion and snapshot now",
    responses={
        401: {"model": ErrorResponse, "description": "Missing or invalid key."},
        403: {"model": ErrorResponse, "description": "The key is not an admin key."},
    },
)
async def reload(serving: ServingDep) -> ReloadResponse:
    """Reload whatever changed; if loading fails, the old model or snapshot keeps serving.

    With several workers, this reaches one of them; the others pick the change up at their
    next poll (``CHURNML_RELOAD_INTERVAL_SECONDS``).
    """
    outcome = await serving.refresh()
    return ReloadResponse(
        model=outcome["model"], snapshot=outcome["snapshot"], readiness=readiness(serving)
    )
