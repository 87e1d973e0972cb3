"""Codes and metric names in words on every page: `{% load wording %}`.

`{{ "max_drawdown_pct"|metric }}` -> "Max drawdown, %"; `{{ "rule_only"|words }}` -> "rules
only" (`trading.domain.wording`). The dashboard never shows snake_case where a trader reads.
"""

from __future__ import annotations

from typing import Any

from django import template

from trading.domain.wording import code_words, metric_label

register = template.Library()


@register.filter
def metric(name: Any) -> str:
    """A metric's name in words with its unit."""
    return metric_label(str(name))


@register.filter
def words(code: Any) -> str:
    """A code (mode, reason, flag, check, axis) in words; None and "" stay empty."""
    if code is None or code == "":
        return ""
    return code_words(str(code))


@register.filter
def words_list(codes: Any) -> str:
    """Several codes in words, comma-separated."""
    return ", ".join(code_words(str(code)) for code in codes or ())
