"""The FastAPI application: ``create_app()`` builds it from the environment's settings.

The model is loaded with churnml's own bundle loader (JSON parameters and LightGBM text files),
never by running the ``pyfunc_model.py`` stored in the artifact store, and the current score
snapshot is read once and held in memory with each row already serialised. Both are swapped
whole on reload (polling, or ``POST /v1/admin/reload``), and if the new one fails to load the
old one keeps serving.

Run it with ``churnml serve`` (uvicorn, two workers recommended), or
``uvicorn serve.app:create_app --factory``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import logging.handlers
import sys
from collections.abc import AsyncIterator

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException

from churnml import __version__
from serve.auth import KeyGate
from serve.deps import ApiKey
from serve.lookup import FastLookup
from serve.middleware import ServingMiddleware
from serve.routers import admin, health, recall, scores
from serve.schemas import ScoreRequest
from serve.settings import ServeSettings
from serve.state import Serving

__all__ = ["create_app"]

log = logging.getLogger("serve")

DESCRIPTION = """\
Scores from churnml for CRM systems: each customer's probability of buying again within a
horizon, P(alive), expected purchases and revenue, customer lifetime value, the expected next
purchase date, the lifecycle segment and value tier.

* `GET /v1/customers/{id}/scores` reads the current **score snapshot** (published by
  `churnml score --publish`); `POST /v1/scores` scores histories you send with the **champion**
  model; `GET /v1/recall` ranks whom to contact under a budget.
* Every `/v1` route needs the header **`X-API-Key`** (keys from `CHURNML_API_KEYS`); admin routes
  need a key from `CHURNML_ADMIN_KEYS`.
* Errors are JSON: `{"detail": ..., "request_id": ...}`; a 422 lists each invalid field by path.
  Every response carries `X-Request-ID` (yours, if you sent a valid one).
"""


class _JsonFormatter(logging.Formatter):
    """Service log lines as JSON; access lines are JSON already and pass through."""

    def format(self, record: logging.LogRecord) -> str:
        if record.name == "serve.access":
            return record.getMessage()
        entry = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            # the server's own log may hold the trace; no response ever does
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def _configure_logging() -> logging.Handler:
    """Send service logs to standard error as JSON; return the access log's buffer."""
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(_JsonFormatter())
    logger = logging.getLogger("serve")
    access = logging.getLogger("serve.access")
    if not logger.handlers:
        logger.addHandler(stream)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    if not access.handlers:
        # writing and flushing stderr on every request cost more than the lookup itself; the
        # access lines are buffered and flushed every quarter second (and when the buffer fills)
        buffer = logging.handlers.MemoryHandler(
            capacity=512, flushLevel=logging.ERROR, target=stream, flushOnClose=True
        )
        access.addHandler(buffer)
        access.propagate = False
    return access.handlers[0]


async def _flush_every(handler: logging.Handler, seconds: float) -> None:
    while True:
        await asyncio.sleep(seconds)
        handler.flush()


def _field(loc: tuple) -> str:
    # where the field sits (body, query, path, header) stays in "loc"; "field" is its name
    parts = list(loc[1:]) if loc and loc[0] in ("body", "query", "path", "header") else list(loc)
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


def _request_id(request: Request) -> str | None:
    return request.scope.get("state", {}).get("request_id")


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    return JSONResponse(
        {"detail": exc.detail, "request_id": _request_id(request)},
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    # the input and pydantic's context are left out: they can echo large or odd values back
    detail = [
        {
            # malformed JSON is located by character offset; the field is the body itself
            "field": "body" if e.get("type") == "json_invalid" else _field(tuple(e.get("loc", ()))),
            "loc": [p if isinstance(p, int) else str(p) for p in e.get("loc", ())],
            "msg": e.get("msg", "invalid"),
            "type": e.get("type", "value_error"),
        }
        for e in exc.errors()
    ]
    return JSONResponse({"detail": detail, "request_id": _request_id(request)}, status_code=422)


def _openapi(app: FastAPI) -> dict:
    """FastAPI's schema, plus the request body that ``POST /v1/scores`` validates itself."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        body = ScoreRequest.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in body.pop("$defs", {}).items():
            components.setdefault(name, sub)
        components["ScoreRequest"] = body
        app.openapi_schema = schema
    return app.openapi_schema


def create_app(settings: ServeSettings | None = None) -> FastAPI:
    """Build the scoring API.

    Parameters
    ----------
    settings : ServeSettings, optional
        Settings (default: read from the environment).

    Returns
    -------
    fastapi.FastAPI
        The application; the model and snapshot load when it starts.

    Raises
    ------
    RuntimeError
        No API key is configured and ``insecure_no_auth`` is not set.
    """
    settings = settings or ServeSettings()
    api_digests = settings.api_key_digests
    if not api_digests and not settings.insecure_no_auth:
        raise RuntimeError(
            "refusing to serve without keys: set CHURNML_API_KEYS (comma-separated keys or "
            "sha256:<hex> digests), or run churnml serve --insecure-no-auth"
        )
    access_log = _configure_logging()
    serving = Serving(settings.score_store, settings.model, settings.model_name)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await serving.refresh(force=True)
        tasks = [asyncio.create_task(_flush_every(access_log, 0.25))]
        if settings.reload_interval_seconds > 0:
            tasks.append(asyncio.create_task(serving.poll(settings.reload_interval_seconds)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            access_log.flush()
            serving.close()

    app = FastAPIOffline(
        title="churnml scoring API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # no 307 to the same path with a slash: its Location would echo the Host header
        redirect_slashes=False,
    )
    app.openapi = lambda: _openapi(app)
    app.state.settings = settings
    app.state.serving = serving
    app.state.api_digests = api_digests
    app.state.admin_digests = settings.admin_key_digests
    app.include_router(health.router)
    app.include_router(scores.router, dependencies=[ApiKey])
    app.include_router(recall.router, dependencies=[ApiKey])
    app.include_router(admin.router)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    # middleware added later wraps what was added before: the key gate and the lean lookup sit
    # inside CORS, so a browser gets the same CORS headers from them as from every route
    if settings.lean_lookup:
        app.add_middleware(FastLookup, serving=serving)
    app.add_middleware(
        KeyGate,
        api_digests=api_digests,
        admin_digests=app.state.admin_digests,
        insecure_no_auth=settings.insecure_no_auth,
    )
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST"],
            allow_headers=["X-API-Key", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "X-Snapshot-Id"],
        )
    # added last, so outermost: its headers and log line cover every response, CORS ones too
    app.add_middleware(
        ServingMiddleware,
        max_body_bytes=settings.max_body_bytes,
        model_version=lambda: serving.model.label if serving.model else None,
    )
    return app
