"""API tokens stored hashed: the database holds a SHA-256 digest, the secret is shown once.

`manage.py api_token USER` (or `optionsdesk.services.api_token_create`) makes a new secret,
stores its digest as DRF's `Token.key` and prints the secret once; a leaked database or admin
page therefore reveals no usable token. Clients send `Authorization: Token <secret>` as before.
"""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import TokenAuthentication

from optionsdesk.tokens import token_digest


class HashedTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, looking the token up by the digest of what the client sent."""

    def authenticate_credentials(self, key: str) -> Any:
        """Hash the presented secret, then authenticate as DRF does (401 when unknown)."""
        return super().authenticate_credentials(token_digest(key))
