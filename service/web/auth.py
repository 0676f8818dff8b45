"""Bearer keys: who a request comes from, and whether its key opens an endpoint.

Keys come from the settings.  A presented key is compared with every
configured key in constant time (``hmac.compare_digest``, all of them, no
early exit), so response times tell nothing about how much of a key matched.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from pydantic import SecretStr

from service.errors import Forbidden, Unauthorized

Role = Literal["admin", "asker", "anonymous"]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: ``key:<fingerprint>`` for a keyed request, else ``address:<ip>``."""

    identity: str
    role: Role


def _any_equal(presented: bytes, keys: Iterable[bytes]) -> bool:
    found = False
    for key in keys:
        found |= hmac.compare_digest(presented, key)
    return found


def fingerprint(key: str) -> str:
    """A short, one-way name for a key (rate-limit buckets and logs never hold the key)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def bearer_token(authorization: str | None) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header; ``None`` when there is none."""
    if authorization is None or not authorization.strip():
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <key>'")
    return token.strip()


class Keyring:
    """The configured admin and ask keys."""

    def __init__(self, admin: Iterable[SecretStr], ask: Iterable[SecretStr]) -> None:
        self._admin = [k.get_secret_value().encode("utf-8") for k in admin]
        self._ask = [k.get_secret_value().encode("utf-8") for k in ask]

    def role_of(self, key: str) -> Role | None:
        """``admin`` or ``asker`` for a configured key, ``None`` for any other."""
        presented = key.encode("utf-8")
        is_admin = _any_equal(presented, self._admin)
        is_asker = _any_equal(presented, self._ask)
        if is_admin:
            return "admin"
        return "asker" if is_asker else None

    def identify(self, authorization: str | None, address: str, *, require_key: bool) -> Caller:
        """The caller of a request.

        Where a key is not required, a missing, malformed or unknown one makes an
        anonymous caller known by its address (OpenAI clients always send some key).
        """
        try:
            key = bearer_token(authorization)
        except Unauthorized:
            if require_key:
                raise
            key = None
        role = self.role_of(key) if key is not None else None
        if key is not None and role is not None:
            return Caller(f"key:{fingerprint(key)}", role)
        if require_key:
            raise Unauthorized(
                "the key is not valid"
                if key is not None
                else "this endpoint needs a key: send 'Authorization: Bearer <key>'"
            )
        return Caller(f"address:{address}", "anonymous")


def require_admin(caller: Caller) -> Caller:
    """The caller, if it holds an admin key; ``Forbidden`` for an ask key."""
    if caller.role != "admin":
        raise Forbidden("this endpoint needs an admin key; an ask key does not open it")
    return caller
