"""Serializers of the greg API (shapes for the schema and the responses)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from greg.domain.spec import SENSOR_NAMES


class SensorVectorSerializer(serializers.Serializer[Any]):
    """The eleven sensors of one underlying (vol points, fractions, USD as the rules say)."""

    vrp_30d = serializers.FloatField()
    vrp_7d = serializers.FloatField()
    front_rv_iv_ratio = serializers.FloatField()
    chop_factor_7d = serializers.FloatField()
    iv_rank_6m = serializers.FloatField()
    term_structure_spread = serializers.FloatField()
    skew_25d = serializers.FloatField(help_text="25-delta put IV minus 25-delta call IV")
    adx_14d = serializers.FloatField()
    rsi_14d = serializers.FloatField()
    price_vs_ma200 = serializers.FloatField()
    predicted_funding_rate = serializers.FloatField()


assert tuple(SensorVectorSerializer().fields) == SENSOR_NAMES


class SelectorResultSerializer(serializers.Serializer[Any]):
    """What the waterfall chose for one vector."""

    strategy = serializers.CharField()
    step = serializers.IntegerField()
    reasoning = serializers.CharField()
