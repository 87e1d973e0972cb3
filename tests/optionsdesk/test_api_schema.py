"""The OpenAPI schema declares the error envelope, real errors match it, and docs/api.md lists
exactly the schema's operations."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from optionsdesk.api.schema import add_error_responses

pytestmark = pytest.mark.django_db

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
ERROR_REF = {"$ref": "#/components/schemas/Error"}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
DOC_OPERATION = re.compile(r"`(GET|PUT|POST|DELETE|OPTIONS|HEAD|PATCH|TRACE) (/[^`\s]*)`")


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def _error_schema_of(response: dict[str, Any]) -> Any:
    return response["content"]["application/json"]["schema"]


def _operations(schema: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def test_schema_has_the_error_envelope_component(schema):
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    envelope = error["properties"]["error"]
    assert set(envelope["required"]) == {"code", "message", "details", "status"}
    assert set(envelope["properties"]) == {"code", "message", "details", "status"}


def test_detail_operation_declares_401_and_404(schema):
    responses = schema["paths"]["/api/agent/decisions/{id}"]["get"]["responses"]
    assert _error_schema_of(responses["401"]) == ERROR_REF
    assert _error_schema_of(responses["404"]) == ERROR_REF
    assert "400" not in responses  # no body, no query parameters


def test_operation_with_a_body_declares_400(schema):
    responses = schema["paths"]["/api/backtests"]["post"]["responses"]
    assert _error_schema_of(responses["400"]) == ERROR_REF
    assert "404" not in responses  # no id in the path


def test_health_keeps_its_own_503_and_needs_no_login(schema):
    responses = schema["paths"]["/health"]["get"]["responses"]
    assert _error_schema_of(responses["503"]) != ERROR_REF
    assert "401" not in responses


def test_every_login_only_operation_declares_401(schema):
    missing = [
        f"{method.upper()} {path}"
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if path != "/health" and "401" not in operation["responses"]
    ]
    assert missing == []


def test_hook_keeps_declared_responses_and_leaves_its_input_alone():
    declared = {"description": "the view's own", "content": {}}
    original: dict[str, Any] = {
        "paths": {
            "/things/{id}": {
                "get": {"security": [{"tokenAuth": []}], "responses": {"404": declared}}
            }
        },
        "components": {"schemas": {}},
    }
    result = add_error_responses(original, None, None, True)
    responses = result["paths"]["/things/{id}"]["get"]["responses"]
    assert responses["404"] is declared
    assert _error_schema_of(responses["401"]) == ERROR_REF
    assert "Error" in result["components"]["schemas"]
    assert original["components"]["schemas"] == {}
    assert set(original["paths"]["/things/{id}"]["get"]["responses"]) == {"404"}


def test_error_component_rejects_drf_default_errors(schema):
    errors = jsonschema.Draft7Validator(schema["components"]["schemas"]["Error"]).iter_errors(
        {"detail": "Not found."}
    )
    assert list(errors) != []


@pytest.mark.parametrize(
    ("logged_in", "url", "template", "status", "code"),
    [
        (False, "/api/agent/decisions", "/api/agent/decisions", 401, "not_authenticated"),
        (True, "/api/agent/comparison?limit=0", "/api/agent/comparison", 400, "invalid"),
        (True, "/api/agent/decisions/999999", "/api/agent/decisions/{id}", 404, "not_found"),
    ],
)
def test_real_errors_match_the_declared_error_schema(
    schema, admin_user, logged_in, url, template, status, code
):
    client = APIClient()
    if logged_in:
        client.force_authenticate(admin_user)
    response = client.get(url)

    assert response.status_code == status
    declared = schema["paths"][template]["get"]["responses"]
    assert _error_schema_of(declared[str(status)]) == ERROR_REF
    body = response.json()
    jsonschema.validate(body, schema["components"]["schemas"]["Error"])
    assert set(body["error"]) == set(
        schema["components"]["schemas"]["Error"]["properties"]["error"]["properties"]
    )
    assert body["error"]["code"] == code
    assert body["error"]["status"] == status


def test_the_chat_allowance_429_is_declared_and_matches_the_envelope(schema, admin_user, settings):
    settings.APP = settings.APP.model_copy(update={"CHAT_QUESTIONS_PER_MINUTE": 1})
    declared = schema["paths"]["/api/chat"]["post"]["responses"]
    assert _error_schema_of(declared["429"]) == ERROR_REF
    assert _error_schema_of(declared["404"]) == ERROR_REF
    client = APIClient()
    client.force_authenticate(admin_user)
    assert client.post("/api/chat", {"message": "status?"}, format="json").status_code == 201

    response = client.post("/api/chat", {"message": "status again?"}, format="json")

    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    jsonschema.validate(response.json(), schema["components"]["schemas"]["Error"])
    assert response.json()["error"]["code"] == "throttled"


def test_api_doc_lists_every_operation_of_the_schema(schema):
    documented = set(DOC_OPERATION.findall(API_DOC.read_text()))
    missing = sorted(f"{method} {path}" for method, path in _operations(schema) - documented)
    assert missing == [], f"operations missing from docs/api.md: {missing}"


def test_api_doc_lists_no_operation_the_schema_lacks(schema):
    documented = set(DOC_OPERATION.findall(API_DOC.read_text()))
    stale = sorted(f"{method} {path}" for method, path in documented - _operations(schema))
    assert stale == [], f"docs/api.md lists operations the schema lacks: {stale}"
