"""Units of the review bot: path safety, secret redaction, review rules, model settings."""
# ruff: noqa: E501 - secret samples read best one per line

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from optionsdesk.redaction import REDACTED, redact
from reviewbot.domain.paths import PathRefused, is_sensitive, parse_location, resolve_in_repo
from reviewbot.domain.review import diff_parse, next_actions, review_rules, severity_counts


def test_paths_inside_the_tree_resolve_and_others_are_refused(tmp_path: Path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "x.py").write_text("x = 1\n")
    (tmp_path / "out").symlink_to("/etc")
    (tmp_path / "app" / "sneaky.py").symlink_to("/etc/passwd")
    assert resolve_in_repo(tmp_path, "app/x.py")[1] == "app/x.py"
    assert resolve_in_repo(tmp_path, "./app/../app/x.py")[1] == "app/x.py"
    for bad in ("../../etc/passwd", "/etc/passwd", "out/passwd", "app/sneaky.py", "..", "a\x00b"):
        with pytest.raises(PathRefused):
            resolve_in_repo(tmp_path, bad)


@pytest.mark.parametrize(
    "name",
    [".env", ".env.production", "prod.env", "var/secret_key", "deploy/id_rsa", "certs/tls.key",
     "tls.pem", "aws_credentials.json", "db.sqlite3"],
)  # fmt: skip
def test_sensitive_files_are_recognised(name: str):
    assert is_sensitive(name)


def test_ordinary_files_and_the_env_example_are_not_sensitive():
    for name in (".env.example", "trading/models.py", "docs/api.md", "keyboard.py"):
        assert not is_sensitive(name)


def test_locations_parse_with_and_without_lines():
    assert parse_location("a/b.py:10-40") == ("a/b.py", 10, 40)
    assert parse_location("a/b.py:7") == ("a/b.py", 7, None)
    assert parse_location("a/b.py") == ("a/b.py", None, None)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("key sk-proj0123456789abcdefghij end", "sk-proj0123456789abcdefghij"),
        ("stripe sk_live_51HabcdEFGHijkl", "sk_live_51HabcdEFGHijkl"),
        ("test sk_test_abcdEFGH1234", "sk_test_abcdEFGH1234"),
        ("password=hunter2secret", "hunter2secret"),
        ("DB_PASSWORD: 's3cr3t-pw'", "s3cr3t-pw"),
        ("SECRET_KEY = 'django-insecure-abc'", "django-insecure-abc"),
        ('{"access_token": "tok123456"}', "tok123456"),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
        ("authorization: Token 9944b09199c62bcf9418ad846dd0e4bb", "9944b09199c62bcf9418ad846dd0e4bb"),
        ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----", "MIIEvQIBADANBg"),
        ("blob QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xt0123", "QUJDREVGR0hJSktMTU5PUFFSU1RV"),
        ("gh ghp_abcdefghijklmnopqrstuvwxyz0123", "ghp_abcdefghijklmnopqrstuvwxyz0123"),
        ("aws AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    ],
)  # fmt: skip
def test_redaction_removes_each_kind_of_secret(text: str, secret: str):
    cleaned = redact(text)
    assert secret not in cleaned
    assert REDACTED in cleaned


def test_redaction_keeps_ordinary_text_and_git_hashes():
    for text in (
        "commit 58060c2a8f4e1b2c3d4e5f60718293a4b5c6d7e8 fixed the gate",
        "trading/services/order_gate.py:12 def order_gate(order):",
        "the secret is to sell covered calls",
    ):
        assert redact(text) == text


DIFF = """diff --git a/trading/x.py b/trading/x.py
new file mode 100644
--- /dev/null
+++ b/trading/x.py
@@ -0,0 +1,4 @@
+KEY = "sk-abcdefghijklmnop0123"
+def f():
+    print("debug")
+    return eval(data)
diff --git a/trading/services/order_gate.py b/trading/services/order_gate.py
--- a/trading/services/order_gate.py
+++ b/trading/services/order_gate.py
@@ -10,2 +10,2 @@
-    check(order)
+    pass  # TODO
"""


def test_review_rules_find_what_the_change_introduces_by_severity():
    files = diff_parse(DIFF)
    assert [f.summary for f in files] == [
        "trading/x.py (new) +4 -0",
        "trading/services/order_gate.py +1 -1",
    ]
    findings = review_rules(DIFF)
    assert findings[0].severity == "CRITICAL"
    assert (findings[0].file, findings[0].line) == ("trading/x.py", 1)
    counts = severity_counts(findings)
    assert counts["CRITICAL"] == 1
    assert counts["HIGH"] == 2  # eval, the order gate touched
    assert counts["LOW"] == 1  # print
    assert counts["INFO"] == 1  # TODO
    assert next_actions(findings)[0] == "1. [CRITICAL] secret in the change in trading/x.py"


def test_review_and_fast_models_come_from_settings_with_the_fallback_chain(settings):
    from reviewbot.services import llm_client

    settings.LLM_ENABLED = True
    settings.APP = settings.APP.model_copy(
        update={
            "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
            "OPENAI_API_KEY": SecretStr("sk-test-0123456789abcdef"),
            "OPENAI_MODEL": "base",
            "OPENAI_FALLBACK_MODELS": "fb1",
            "OPENAI_MODEL_REVIEW": "deep",
            "OPENAI_REASONING_EFFORT": "high",
        }
    )
    review = llm_client("review")
    fast = llm_client("fast")
    assert review.config.models == ("deep", "base", "fb1")  # type: ignore[attr-defined]
    assert review.config.reasoning_effort == "high"  # type: ignore[attr-defined]
    assert fast.config.models == ("base", "fb1")  # type: ignore[attr-defined]


def test_the_reasoning_effort_is_sent_only_when_configured(llm_server, fake):
    from tests.fake_openai import answer, make_llm_client

    fake.queue(answer("a"), answer("b"))
    from optionsdesk.llm import ChatMessage

    make_llm_client(llm_server, reasoning_effort="high").complete([ChatMessage("user", "q")])
    make_llm_client(llm_server).complete([ChatMessage("user", "q")])
    assert fake.received[0].body["reasoning_effort"] == "high"
    assert "reasoning_effort" not in fake.received[1].body


@pytest.mark.django_db
def test_run_reviewbot_refuses_to_start_without_a_token(settings):
    from django.core.management import CommandError, call_command

    settings.APP = settings.APP.model_copy(update={"TELEGRAM_BOT_TOKEN": SecretStr("")})
    with pytest.raises(CommandError, match="TELEGRAM_BOT_TOKEN"):
        call_command("run_reviewbot")
