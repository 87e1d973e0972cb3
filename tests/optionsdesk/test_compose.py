"""docker-compose.yml cannot run here, so keep it honest: its commands equal the Makefile's."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from optionsdesk.processes import command

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("web", "worker-agent", "worker-research", "beat", "bot")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())


def makefile_recipe(target: str) -> list[str]:
    text = (REPO_ROOT / "Makefile").read_text()
    match = re.search(rf"^{target}:.*\n\t(.+)$", text, flags=re.MULTILINE)
    assert match, f"Makefile has no {target} target"
    line = match.group(1).replace("$(VENV)/bin/", "").replace("$(PY)", "python")
    return shlex.split(line.replace("$(BIND)", "0.0.0.0:8000"))


@pytest.mark.parametrize("service", SERVICES)
def test_compose_commands_match_the_makefile_and_the_demo(compose: dict, service: str):
    compose_argv = shlex.split(compose["services"][service]["command"])
    assert compose_argv == makefile_recipe(service)
    assert compose_argv == command(service, bind="0.0.0.0:8000")


def test_compose_has_the_production_services_with_healthchecks(compose: dict):
    services = compose["services"]
    assert {"web", "worker-agent", "worker-research", "beat", "postgres", "redis"} <= set(services)
    for name in ("web", "worker-agent", "worker-research", "postgres", "redis"):
        assert "healthcheck" in services[name], name
    assert services["web"]["env_file"] == ".env"
    assert services["web"]["environment"]["CELERY_BROKER_URL"].startswith("redis://")
    assert services["web"]["environment"]["DATABASE_URL"].startswith("postgres://")


def test_env_example_documents_every_setting():
    from optionsdesk.config import AppSettings

    documented = set(
        re.findall(r"^#?\s?([A-Z][A-Z0-9_]+)=", (REPO_ROOT / ".env.example").read_text(), re.M)
    )
    missing = set(AppSettings.model_fields) - documented
    assert not missing, f".env.example lacks {sorted(missing)}"


def test_dockerfile_installs_with_the_same_command_as_make():
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert "RUN make install" in dockerfile
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert "make install" in ci
