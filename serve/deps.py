"""Dependencies of the routes, as ``Annotated`` aliases that tests can override.

They are ``async`` on purpose: FastAPI runs a plain ``def`` dependency in a thread pool, which on
the by-id lookup costs more than the lookup itself.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader

from serve.settings import ServeSettings
from serve.state import ModelState, Serving, SnapshotState

__all__ = [
    "AdminKey",
    "ApiKey",
    "ModelDep",
    "ServingDep",
    "SettingsDep",
    "SnapshotDep",
    "UNAUTHORISED_DETAIL",
    "get_model",
    "get_serving",
    "get_settings",
    "get_snapshot",
    "key_matches",
    "require_admin_key",
    "require_api_key",
]

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="A key from CHURNML_API_KEYS (admin routes: CHURNML_ADMIN_KEYS).",
)

UNAUTHORISED_DETAIL = "missing or invalid X-API-Key"
_UNAUTHORISED = HTTPException(
    status_code=401,
    detail=UNAUTHORISED_DETAIL,
    headers={"WWW-Authenticate": "ApiKey"},
)


def key_matches(key: str | None, digests: tuple[bytes, ...]) -> bool:
    """Compare a presented key with every known key digest in constant time.

    Parameters
    ----------
    key : str or None
        The ``X-API-Key`` header.
    digests : tuple of bytes
        SHA-256 digests of the accepted keys.

    Returns
    -------
    bool
        Whether the key is one of them.
    """
    if not key:
        return False
    presented = hashlib.sha256(key.encode()).digest()
    # every digest is compared, so the time taken does not tell which key came close
    found = False
    for digest in digests:
        found |= hmac.compare_digest(presented, digest)
    return found


async def get_settings(request: Request) -> ServeSettings:
    """Return the service's settings."""
    return request.app.state.settings


async def get_serving(request: Request) -> Serving:
    """Return what is being served."""
    return request.app.state.serving


async def require_api_key(
    request: Request, key: Annotated[str | None, Security(api_key_header)]
) -> None:
    """Refuse (401) a request without a valid API or admin key.

    Parameters
    ----------
    request : fastapi.Request
        The request.
    key : str or None
        The ``X-API-Key`` header.

    Raises
    ------
    fastapi.HTTPException
        401 when the key is missing or unknown.
    """
    state = request.app.state
    if state.settings.insecure_no_auth:
        return
    if not key_matches(key, state.api_digests):
        raise _UNAUTHORISED


async def require_admin_key(
    request: Request, key: Annotated[str | None, Security(api_key_header)]
) -> None:
    """Refuse a request without an admin key (401 without a valid key, 403 with a plain one).

    Parameters
    ----------
    request : fastapi.Request
        The request.
    key : str or None
        The ``X-API-Key`` header.

    Raises
    ------
    fastapi.HTTPException
        401 or 403.
    """
    state = request.app.state
    if state.settings.insecure_no_auth:
        return
    if key_matches(key, state.admin_digests):
        return
    if key_matches(key, state.api_digests):
        raise HTTPException(status_code=403, detail="this route needs an admin key")
    raise _UNAUTHORISED


async def get_model(serving: Annotated[Serving, Depends(get_serving)]) -> ModelState:
    """Return the model being served (503 when none is loaded, saying why).

    Parameters
    ----------
    serving : Serving
        What is being served.

    Returns
    -------
    ModelState
        The loaded model.

    Raises
    ------
    fastapi.HTTPException
        503 when no model is loaded.
    """
    model = serving.model
    if model is None:
        raise HTTPException(503, f"no model loaded: {serving.model_error or 'loading'}")
    return model


async def get_snapshot(serving: Annotated[Serving, Depends(get_serving)]) -> SnapshotState:
    """Return the score snapshot being served (503 when none is loaded, saying why).

    Parameters
    ----------
    serving : Serving
        What is being served.

    Returns
    -------
    SnapshotState
        The loaded snapshot.

    Raises
    ------
    fastapi.HTTPException
        503 when no snapshot is loaded.
    """
    snapshot = serving.snapshot
    if snapshot is None:
        raise HTTPException(503, f"no score snapshot loaded: {serving.snapshot_error or 'loading'}")
    return snapshot


SettingsDep = Annotated[ServeSettings, Depends(get_settings)]
ServingDep = Annotated[Serving, Depends(get_serving)]
ModelDep = Annotated[ModelState, Depends(get_model)]
SnapshotDep = Annotated[SnapshotState, Depends(get_snapshot)]
ApiKey = Depends(require_api_key)
AdminKey = Depends(require_admin_key)
