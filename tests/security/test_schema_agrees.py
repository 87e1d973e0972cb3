"""The schema declares what the API answers: each rule schemathesis found undeclared, and its
declaration (the live run is `test_schemathesis.py`; these say which rule broke)."""

from __future__ import annotations

import re

import pytest
from drf_spectacular.generators import SchemaGenerator

from optionsdesk.api.schema import _decimal_pattern

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def _component(schema: dict, name: str) -> dict:
    return schema["components"]["schemas"][name]


def _parameter(schema: dict, path: str, name: str) -> dict:
    return next(p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == name)


def test_a_decimal_needs_a_digit_as_drf_does():
    pattern = _decimal_pattern(r"^-?\d{0,12}(?:\.\d{0,2})?$")
    for text in ("1", "-1", "1.", ".5", "-1.25", "123456789012.12"):
        assert re.match(pattern, text), text
    for text in ("", "-", ".", "1.234", "1234567890123", "abc"):
        assert not re.match(pattern, text), text


def test_backtest_bodies_refuse_unknown_members_and_say_so(schema, client_as):
    researcher = client_as("researcher")
    response = researcher.post(
        "/api/backtests/studies",
        {"kind": "funnel", "error": {"details": {}}},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "error" in response.json()["error"]["details"]
    response = researcher.post("/api/backtests", {"nmae": "typo"}, content_type="application/json")
    assert response.status_code == 400
    assert "nmae" in response.json()["error"]["details"]
    for name in ("BacktestRunCreateRequest", "SelectorStudyCreateRequest"):
        assert _component(schema, name)["additionalProperties"] is False


def test_text_fields_refuse_numbers(client_as):
    researcher = client_as("researcher")
    response = researcher.post("/api/backtests", {"name": 0}, content_type="application/json")
    assert response.status_code == 400
    assert "name" in response.json()["error"]["details"]
    response = researcher.post(
        "/api/backtests/studies", {"kind": "funnel", "source": []}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "source" in response.json()["error"]["details"]


def test_a_study_kind_is_a_declared_enum(schema):
    kind = _component(schema, "SelectorStudyCreateRequest")["properties"]["kind"]
    ref = kind["allOf"][0]["$ref"].rsplit("/", 1)[1]
    assert _component(schema, ref)["enum"] == [
        "funnel",
        "heatmap",
        "arena",
        "environment",
        "source_compare",
    ]


def test_an_open_control_range_is_declared_and_refused(schema, client_as):
    controls = _component(schema, "PatchedAgentControlsRequest")["properties"]
    assert controls["take_profit_frac"]["minimum"] == 0
    assert controls["take_profit_frac"]["exclusiveMinimum"] is True
    assert "exclusiveMinimum" not in controls["delta_min"]
    response = client_as("operator").patch(
        "/api/agent/controls", {"take_profit_frac": 0.0}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "take_profit_frac" in response.json()["error"]["details"]


def test_the_orders_decision_filter_is_an_id_and_an_unknown_one_matches_nothing(schema, client_as):
    assert _parameter(schema, "/api/agent/orders", "decision")["schema"]["minimum"] == 1
    assert _parameter(schema, "/api/agent/orders", "filled")["schema"]["type"] == "boolean"
    viewer = client_as("viewer")
    response = viewer.get("/api/agent/orders", {"decision": 123456})
    assert response.status_code == 200
    assert response.json()["count"] == 0
    assert viewer.get("/api/agent/orders", {"decision": 0}).status_code == 400
    assert viewer.get("/api/agent/orders", {"decision": 2**63}).status_code == 400


def test_the_chat_body_says_message_or_question_not_both(schema, client_as):
    body = _component(schema, "ChatRequestRequest")
    assert body["oneOf"] == [{"required": ["message"]}, {"required": ["question"]}]
    assert body["properties"]["message"]["pattern"] == r"\S"
    response = client_as("viewer").post(
        "/api/chat", {"message": 5}, content_type="application/json"
    )
    assert response.status_code == 400


def test_free_text_refuses_a_nul_character_in_the_schema_and_in_the_answer(schema, client_as):
    from optionsdesk.api.schema import NO_NUL_PATTERN

    # schemathesis sent NUL in `instrument` (a filter: 400) and in `underlying` (read by the view
    # itself: 200); the schema now says every free text refuses it, and every query string does
    assert _parameter(schema, "/api/agent/orders", "instrument")["schema"]["pattern"] == (
        NO_NUL_PATTERN
    )
    assert _parameter(schema, "/api/calibration/runs", "underlying")["schema"]["pattern"] == (
        NO_NUL_PATTERN
    )
    assert re.match(NO_NUL_PATTERN, "BTC-26DEC25-100000-C")
    assert not re.match(NO_NUL_PATTERN, "BTC\x00")
    viewer = client_as("viewer")
    for url in ("/api/calibration/runs?underlying=BT%00C", "/api/agent/orders?instrument=a%00"):
        response = viewer.get(url)
        assert response.status_code == 400, url
        assert response.json()["error"]["message"] == "Null characters are not allowed."
    assert viewer.get("/api/calibration/runs?underlying=BTC").status_code == 200
