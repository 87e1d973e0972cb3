"""The OpenAPI schema and Swagger UI work offline: nothing is fetched from a CDN."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db


def test_schema_is_openapi_3_and_documents_system_endpoints(logged_in_client):
    response = logged_in_client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/health" in schema["paths"]
    assert "/api/status" in schema["paths"]


def test_swagger_ui_loads_only_local_assets(logged_in_client):
    response = logged_in_client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    external = re.findall(r"""(?:src|href)=["'](https?://[^"']+)""", html)
    assert external == []
    for asset in re.findall(r"""(?:src|href)=["'](/static/[^"']+)""", html):
        assert logged_in_client.get(asset).status_code == 200, asset
