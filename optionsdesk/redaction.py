"""Secret redaction for logs, prompts and API responses.

Secrets are known values (API keys, tokens, client secrets from settings) plus patterns that look
like credentials; both are replaced with a fixed marker before text leaves the process.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

REDACTED = "[REDACTED]"
#: name, separator, value: the value is replaced, the name kept (so the text stays readable).
_NAMED = [
    re.compile(
        r"(?i)(client_secret|api[_-]?key|access_token|refresh_token|password|token)"
        r"([\"']?\s*[:=]\s*[\"']?)(?!\[REDACTED\])([^\s\"'&,}]+)"
    ),
    re.compile(
        r"(?i)((?<![A-Za-z0-9_])(?:[A-Za-z0-9]+_)*(?:secret|passwd|pwd|private[_-]?key|"
        r"credentials?|auth[_-]?token)[A-Za-z0-9_]*)"
        r"([\"']?\s*[:=]\s*[\"']?)(?!\[REDACTED\])([^\s\"'&,}]{4,})"
    ),
]
_PATTERNS = [
    re.compile(r"\bsk-[A-Za-z0-9_-]{16,}\b"),
    re.compile(r"\b\d{6,12}:[A-Za-z0-9_-]{30,}\b"),  # Telegram bot tokens
    re.compile(r"(?i)\bBearer\s+[A-Za-z0-9._~+/=-]{8,}"),
    # Stripe-style keys (sk_live_, sk_test_, rk_live_, pk_live_ ...).
    re.compile(r"\b[rsp]k_(?:live|test)_[A-Za-z0-9]{8,}\b"),
    # Authorization headers of any scheme (Basic, Token, Bearer, raw keys).
    re.compile(r"(?im)(?<=authorization:)[ \t]*[^\r\n]+"),
    # PEM blocks (private keys, certificates): the whole block.
    re.compile(
        r"-----BEGIN [A-Z0-9 ]+-----[\s\S]*?(?:-----END [A-Z0-9 ]+-----|\Z)",
    ),
    # GitHub, Slack, AWS and Google API keys.
    re.compile(r"\b(?:ghp|gho|ghs|ghu|github_pat)_[A-Za-z0-9_]{20,}\b"),
    re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    # Long base64 runs (40+ characters with at least one digit and one letter of each case):
    # encoded keys and blobs. Hex digests (git SHAs) do not match: they have no upper case.
    re.compile(
        r"(?<![A-Za-z0-9+/=_-])(?=[A-Za-z0-9+/]*[0-9])(?=[A-Za-z0-9+/]*[a-z])"
        r"(?=[A-Za-z0-9+/]*[A-Z])[A-Za-z0-9+/]{40,}={0,2}(?![A-Za-z0-9+/=_-])"
    ),
]


def known_secrets() -> list[str]:
    """The configured secret values (never empty strings), read from Django settings if loaded."""
    try:
        from django.conf import settings

        app = settings.APP
    except Exception:
        return []
    values = [
        app.DERIBIT_CLIENT_SECRET.get_secret_value(),
        app.OPENAI_API_KEY.get_secret_value(),
        app.TELEGRAM_BOT_TOKEN.get_secret_value(),
        app.ADMIN_PASSWORD.get_secret_value(),
    ]
    return [value for value in values if len(value) >= 4]


def redact(text: str, extra_secrets: Iterable[str] = ()) -> str:
    """Return `text` with every known secret and credential-looking value replaced."""
    for secret in [*known_secrets(), *extra_secrets]:
        if secret:
            text = text.replace(secret, REDACTED)
    for named in _NAMED:
        text = named.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    for pattern in _PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text


#: An absolute file system path of two or more parts (POSIX, or a Windows drive).
_PATH = re.compile(r"(?:\b[A-Za-z]:)?(?:[/\\][\w.@+~-]+){2,}[/\\]?")


def paths_hidden(text: str) -> str:
    """`text` with server paths cut to their last part (`.../name`), for messages users see.

    A failed backtest's error once showed where the server keeps its data and code.
    """
    return _PATH.sub(lambda m: ".../" + re.split(r"[/\\]", m.group(0).rstrip("/\\"))[-1], text)


def public_error(exc: BaseException) -> str:
    """An exception as users may see it: type and message, no paths, no secrets, bounded."""
    return redact(paths_hidden(f"{type(exc).__name__}: {exc}"))[:1000]


class RedactingFilter(logging.Filter):
    """Logging filter that redacts secrets from every record's rendered message."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message once, redact it, and drop the original arguments."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        record.msg = redact(message)
        record.args = None
        return True
