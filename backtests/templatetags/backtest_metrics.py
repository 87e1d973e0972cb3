"""A backtest metric's value in the dashboard's one number format.

`{% load backtest_metrics %}` then `{{ m.max_drawdown_pct|metric_value:"max_drawdown_pct" }}`
-> "-30.5%" (with a true minus sign).
"""

from __future__ import annotations

from typing import Any

from django import template

from backtests.domain.metrics import format_metric

register = template.Library()


@register.filter
def metric_value(value: Any, name: str) -> str:
    """`value` of metric `name` as people read it (`backtests.domain.metrics.format_metric`)."""
    if value is not None and not isinstance(value, int | float | str):
        return str(value)
    return format_metric(str(name), value)
