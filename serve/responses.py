"""JSON answers sent straight to ASGI, for the parts of the service that answer before FastAPI."""

from __future__ import annotations

import orjson

__all__ = ["send_error", "send_json"]


async def send_json(send, status: int, body: bytes, headers=()) -> None:
    """Send a complete JSON response.

    Parameters
    ----------
    send : callable
        The ASGI ``send``.
    status : int
        HTTP status.
    body : bytes
        The JSON body.
    headers : iterable of (bytes, bytes)
        Further headers.
    """
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def send_error(scope, send, status: int, detail: str, headers=()) -> None:
    """Send an error in the service's shape: ``{"detail": ..., "request_id": ...}``.

    Parameters
    ----------
    scope : dict
        The ASGI scope (the request id is in its state).
    send : callable
        The ASGI ``send``.
    status : int
        HTTP status.
    detail : str
        What went wrong, for the caller.
    headers : iterable of (bytes, bytes)
        Further headers.
    """
    request_id = scope.get("state", {}).get("request_id")
    body = orjson.dumps({"detail": detail, "request_id": request_id})
    await send_json(send, status, body, headers)
