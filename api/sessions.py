"""The web UI's signed session cookie.

Signing in at ``/login`` checks the key once and then keeps, in an HttpOnly SameSite=Strict cookie,
only a signed statement of *which* key signed in: ``{"k": key reference, "r": role, "iat":
issued-at}``, base64url-encoded and followed by an HMAC-SHA256 over it with the server's session
secret. The key itself never lands in the browser. Every request re-checks the signature, the age
(``ApiSettings.session_max_age_seconds``) and that the key still exists with that role, so revoking
a stored key or removing a configured one ends its sessions at once. A cookie that was altered,
signed with another secret, or is too old is ignored, as if there were none (401).

The secret is ``ApiSettings.session_secret``; when unset, a random one is made per process, so
sessions then end when the server restarts (and are not shared between several server processes).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

SESSION_COOKIE = "signal_triage_session"
_SALT = b"signal-triage/session/v1"


@dataclass(frozen=True, slots=True)
class SessionClaims:
    key_ref: str
    role: str
    issued_at: int


def random_secret() -> str:
    return secrets.token_urlsafe(32)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, body: str) -> str:
    return _b64(hmac.new(_SALT + secret.encode(), body.encode(), hashlib.sha256).digest())


def sign_session(secret: str, claims: SessionClaims) -> str:
    body = _b64(
        json.dumps(
            {"k": claims.key_ref, "r": claims.role, "iat": claims.issued_at}, separators=(",", ":")
        ).encode()
    )
    return f"{body}.{_mac(secret, body)}"


def read_session(secret: str, cookie: str, now: float, max_age_seconds: float) -> SessionClaims | None:
    """The claims of a cookie this server signed, not older than ``max_age_seconds``; else ``None``."""
    body, dot, signature = cookie.partition(".")
    if not dot or not hmac.compare_digest(signature.encode(), _mac(secret, body).encode()):
        return None
    try:
        data = json.loads(_unb64(body))
        claims = SessionClaims(str(data["k"]), str(data["r"]), int(data["iat"]))
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None
    if claims.issued_at > now + 60 or now - claims.issued_at > max_age_seconds:
        return None
    return claims
