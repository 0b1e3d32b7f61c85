"""The by-id lookup, and the lean ASGI path that answers it without FastAPI's routing.

FastAPI resolves dependencies and validates parameters on every request, which costs several
times what the lookup itself does: a dictionary read of a row serialised when the snapshot
loaded. The lookup is the route a CRM calls most, so :class:`FastLookup` answers
``GET /v1/customers/{id}/scores`` directly, after :class:`serve.auth.KeyGate` has checked the
key: the same row, the same errors as
the FastAPI route in :mod:`serve.routers.scores`, which documents it in the OpenAPI schema and
answers whatever the fast path leaves to it (an id FastAPI would refuse, another method).
"""

from __future__ import annotations

from dataclasses import dataclass

from serve.responses import send_error, send_json
from serve.state import Serving

__all__ = ["MAX_ID_LENGTH", "ROUTE", "FastLookup", "find_row"]

ROUTE = "/v1/customers/{customer_id:path}/scores"
MAX_ID_LENGTH = 256
_PREFIX, _SUFFIX = "/v1/customers/", "/scores"


@dataclass(frozen=True)
class _Route:
    """Stands for the route in ``scope["route"]``, so logs and metrics name the template."""

    path: str = ROUTE


def find_row(serving: Serving, customer_id: str) -> tuple[int, bytes | str, int | None]:
    """Find a customer's serialised row in the snapshot being served.

    Parameters
    ----------
    serving : Serving
        What is being served.
    customer_id : str
        The customer.

    Returns
    -------
    status : int
        200, 404 (unknown customer) or 503 (no snapshot loaded).
    body : bytes or str
        The row's JSON for 200, else the error detail.
    snapshot_id : int or None
        The snapshot searched.
    """
    snapshot = serving.snapshot
    if snapshot is None:
        return 503, f"no score snapshot loaded: {serving.snapshot_error or 'loading'}", None
    s = snapshot.snapshot
    row = snapshot.rows.get(customer_id)
    if row is None:
        return (
            404,
            f"customer {customer_id!r} is not in score snapshot {s.id} "
            f"(as of {s.as_of}, {s.n_rows} customers, model {s.model_version})",
            s.id,
        )
    return 200, row, s.id


class FastLookup:
    """Answer ``GET /v1/customers/{id}/scores`` before FastAPI's routing.

    Parameters
    ----------
    app : ASGI application
        The application to wrap.
    serving : Serving
        What is being served.
    """

    def __init__(self, app, serving: Serving) -> None:
        self.app = app
        self.serving = serving

    async def __call__(self, scope, receive, send) -> None:
        """Answer a lookup, or pass the request on."""
        if scope["type"] == "http" and scope["method"] == "GET":
            path = scope["path"]
            if path.startswith(_PREFIX) and path.endswith(_SUFFIX):
                customer_id = path[len(_PREFIX) : -len(_SUFFIX)]
                # anything FastAPI would refuse (422) is left to it; an id may hold a "/"
                # (sent as %2F), as the route's path converter allows
                if 0 < len(customer_id) <= MAX_ID_LENGTH:
                    await self._answer(scope, send, customer_id)
                    return
        await self.app(scope, receive, send)

    async def _answer(self, scope, send, customer_id: str) -> None:
        scope["route"] = _Route()
        headers = []
        status, body, snapshot_id = find_row(self.serving, customer_id)
        if snapshot_id is not None:
            headers.append((b"x-snapshot-id", str(snapshot_id).encode()))
        if status != 200:
            await send_error(scope, send, status, body, headers)
            return
        await send_json(send, 200, body, headers)
