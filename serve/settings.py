"""Serving settings, read from the environment (``CHURNML_*``) by pydantic-settings.

Every limit has a default that suits a CRM calling with a few hundred customers at a time; each is
one environment variable, so a deployment changes them without code.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from churnml.config import REGISTERED_MODEL, api_key_digests

__all__ = ["ServeSettings"]


class ServeSettings(BaseSettings):
    """What the service reads from the environment.

    Attributes
    ----------
    api_keys : str
        ``CHURNML_API_KEYS``: comma-separated keys for the ``/v1`` routes. An entry
        ``sha256:<64 hex digits>`` is the SHA-256 of a key, so the plaintext need not sit in the
        environment.
    admin_keys : str
        ``CHURNML_ADMIN_KEYS``: keys (same forms) for ``/v1/admin``; admin keys also pass ``/v1``.
    insecure_no_auth : bool
        ``CHURNML_INSECURE_NO_AUTH``: serve without keys (``churnml serve --insecure-no-auth``).
    score_store : str or None
        ``CHURNML_SCORE_STORE``: SQLAlchemy URL of the score store (unset: churnml's default,
        ``sqlite:///scores.db``).
    model_name, model : str
        ``CHURNML_MODEL_NAME`` (registered model) and ``CHURNML_MODEL`` (alias or version served).
    max_batch_customers, max_batch_transactions : int
        ``POST /v1/scores`` limits; more is answered 413.
    max_body_bytes : int
        Largest request body (4 MiB: 1,000 customers with 50 orders each fit); more is
        answered 413 before it is read. FastAPI parses a body on the worker's event loop
        (about 0.3 s for 4 MiB here), so a larger limit lets one caller delay others.
    reload_interval_seconds : float
        How often the champion alias and the current snapshot are checked (0: never; reload
        with ``POST /v1/admin/reload``).
    cors_origins : str
        Comma-separated origins allowed by CORS; empty (the default) leaves CORS off.
    lean_lookup : bool
        ``CHURNML_LEAN_LOOKUP``: answer by-id lookups on the lean ASGI path
        (:class:`serve.lookup.FastLookup`); off, FastAPI's route answers them (the same
        answers, measured slower in ``benchmarks/bench_api.py``).
    """

    model_config = SettingsConfigDict(env_prefix="CHURNML_", extra="ignore")

    api_keys: str = Field(default="", repr=False)
    admin_keys: str = Field(default="", repr=False)
    insecure_no_auth: bool = False
    score_store: str | None = None
    model_name: str = REGISTERED_MODEL
    model: str = "champion"
    max_batch_customers: int = Field(default=1000, gt=0)
    max_batch_transactions: int = Field(default=200_000, gt=0)
    max_body_bytes: int = Field(default=4 * 1024 * 1024, gt=0)
    reload_interval_seconds: float = Field(default=30.0, ge=0)
    cors_origins: str = ""
    lean_lookup: bool = True

    @property
    def api_key_digests(self) -> tuple[bytes, ...]:
        """SHA-256 digests of the API keys and the admin keys."""
        return api_key_digests(self.api_keys) + api_key_digests(self.admin_keys)

    @property
    def admin_key_digests(self) -> tuple[bytes, ...]:
        """SHA-256 digests of the admin keys."""
        return api_key_digests(self.admin_keys)

    @property
    def cors_origin_list(self) -> list[str]:
        """The CORS origins, empty when CORS is off."""
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]
