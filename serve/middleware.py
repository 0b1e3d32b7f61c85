"""One pure ASGI middleware for what every request needs: request id, limits, headers, log, metrics.

Pure ASGI rather than ``@app.middleware("http")``: Starlette's ``BaseHTTPMiddleware`` wraps each
request in extra tasks and streams, which cost more than the whole by-id lookup does (measured in
``benchmarks/bench_api.py``).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

import orjson
from prometheus_client import Counter, Histogram
from starlette.exceptions import HTTPException

from serve.responses import send_error

__all__ = ["LATENCY", "REQUESTS", "BodyTooLarge", "ServingMiddleware"]

access_log = logging.getLogger("serve.access")
log = logging.getLogger("serve")

REQUESTS = Counter(
    "churnml_http_requests_total", "HTTP requests answered.", ["method", "route", "status"]
)
LATENCY = Histogram(
    "churnml_http_request_duration_seconds",
    "Time from request to the end of the response.",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
# The API answers JSON only; the interactive docs run Swagger UI's script, served by the app.
_CSP_API = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
_DOCS_PATHS = ("/docs", "/redoc", "/static-offline-docs")


class BodyTooLarge(HTTPException):
    """A request body went over the limit while it was being read (answered 413)."""

    def __init__(self, limit: int) -> None:
        # an HTTPException, so FastAPI's body parsing passes it on instead of making it a 400
        super().__init__(413, f"request body larger than the limit of {limit} bytes")


class ServingMiddleware:
    """Request id, body limit, security headers, one JSON log line and metrics per request.

    Parameters
    ----------
    app : ASGI application
        The application to wrap.
    max_body_bytes : int
        Largest request body; a larger one is answered 413 without being read whole.
    model_version : callable
        Returns the model version being served, for the log line.
    """

    def __init__(self, app, max_body_bytes: int, model_version: Callable[[], str | None]) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.model_version = model_version
        self._children: dict[tuple[str, str, int], tuple] = {}

    async def __call__(self, scope, receive, send) -> None:
        """Handle one ASGI connection scope."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = None
        declared = 0
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                text = value.decode("latin-1")
                request_id = text if _REQUEST_ID.match(text) else None
            elif name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
        request_id = request_id or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        if declared > self.max_body_bytes:
            await self._reject_too_large(scope, send, start)
            return
        rid = request_id.encode()
        path = scope["path"]
        extra = [] if path.startswith(_DOCS_PATHS) else [_CSP_API]
        status = 500
        started = False
        received = 0
        limit = self.max_body_bytes

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def send_with_headers(message):
            nonlocal status, started
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", rid),
                    *_SECURITY_HEADERS,
                    *extra,
                ]
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except Exception:
            # Answered here rather than by Starlette's error middleware, which re-raises: then
            # uvicorn would print a plain-text traceback and close the client's connection.
            log.exception("unhandled error in %s (request %s)", path, request_id)
            if not started:
                await send_error(
                    scope, send_with_headers, 500, "internal error; quote the request id"
                )
        finally:
            self._record(scope, status, start)

    async def _reject_too_large(self, scope, send, start: float) -> None:
        # sent before the app is called, so this is where its headers are added
        rid = scope["state"]["request_id"].encode()
        await send_error(
            scope,
            send,
            413,
            f"request body larger than the limit of {self.max_body_bytes} bytes",
            [(b"x-request-id", rid), (b"connection", b"close"), *_SECURITY_HEADERS, _CSP_API],
        )
        self._record(scope, 413, start)

    def _record(self, scope, status: int, start: float) -> None:
        elapsed = time.perf_counter() - start
        route = scope.get("route")
        # the route template, never the raw path: ids must not become metric labels
        template = getattr(route, "path", None) or "unmatched"
        key = (scope["method"], template, status)
        children = self._children.get(key)
        if children is None:
            # labels() takes a lock and builds a tuple on each call: look each series up once
            children = (REQUESTS.labels(key[0], template, str(status)), LATENCY.labels(template))
            self._children[key] = children
        children[0].inc()
        children[1].observe(elapsed)
        if access_log.isEnabledFor(logging.INFO):
            access_log.info(
                orjson.dumps(
                    {
                        "ts": round(time.time(), 3),
                        "request_id": scope["state"]["request_id"],
                        "method": scope["method"],
                        "route": template,
                        "status": status,
                        "latency_ms": round(elapsed * 1000, 3),
                        "model_version": self.model_version(),
                    }
                ).decode()
            )
