"""The key check, in ASGI, before anything reads a request body.

FastAPI resolves a route's dependencies (the key check among them) only after it has read and
validated the body, so without this gate a request with no key would still have its body
parsed on the event loop, and an invalid body would be answered 422 instead of 401. The route
dependencies in :mod:`serve.deps` keep the same check (and document it in the OpenAPI schema).
"""

from __future__ import annotations

from serve.deps import UNAUTHORISED_DETAIL, key_matches
from serve.responses import send_error

__all__ = ["KeyGate"]

_API, _ADMIN = "/v1/", "/v1/admin/"


class KeyGate:
    """Refuse ``/v1`` requests without a valid key (admin routes: an admin key) up front.

    Parameters
    ----------
    app : ASGI application
        The application to wrap.
    api_digests : tuple of bytes
        Digests of the keys accepted on ``/v1`` (admin keys included).
    admin_digests : tuple of bytes
        Digests of the admin keys.
    insecure_no_auth : bool
        Whether keys are not checked.
    """

    def __init__(
        self,
        app,
        api_digests: tuple[bytes, ...],
        admin_digests: tuple[bytes, ...],
        insecure_no_auth: bool,
    ) -> None:
        self.app = app
        self.api_digests = api_digests
        self.admin_digests = admin_digests
        self.insecure_no_auth = insecure_no_auth

    async def __call__(self, scope, receive, send) -> None:
        """Check the key of a ``/v1`` request, then pass it on."""
        if scope["type"] == "http" and not self.insecure_no_auth:
            path = scope["path"]
            if path.startswith(_API) or path == "/v1":
                raw = next((v for k, v in scope["headers"] if k == b"x-api-key"), None)
                key = raw.decode("latin-1") if raw is not None else None
                if path.startswith(_ADMIN) and not key_matches(key, self.admin_digests):
                    if key_matches(key, self.api_digests):
                        await send_error(scope, send, 403, "this route needs an admin key", [])
                    else:
                        await send_error(
                            scope,
                            send,
                            401,
                            UNAUTHORISED_DETAIL,
                            [(b"www-authenticate", b"ApiKey")],
                        )
                    return
                if not key_matches(key, self.api_digests):
                    await send_error(
                        scope, send, 401, UNAUTHORISED_DETAIL, [(b"www-authenticate", b"ApiKey")]
                    )
                    return
        await self.app(scope, receive, send)
