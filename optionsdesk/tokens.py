"""API token secrets and what the database keeps of them (a digest; docs/roles.md)."""

from __future__ import annotations

import hashlib


def token_digest(secret: str) -> str:
    """What the database stores for a token secret (40 hex characters of its SHA-256)."""
    return hashlib.sha256(secret.encode()).hexdigest()[:40]
