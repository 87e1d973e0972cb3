"""Code review by rules over a unified diff: changed files and findings with severities.

Pure. The rules look only at added lines (what the change introduces) and at which files
moved; the LLM review, when there is one, adds its findings to these. Severities follow the
seed: CRITICAL (must fix), HIGH (strongly recommended), MEDIUM (fix soon), LOW (nice to have),
INFO (observations).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO")
RANK = {name: i for i, name in enumerate(SEVERITIES)}


@dataclass(frozen=True, slots=True)
class Finding:
    """One issue: how bad, where, what and what to do."""

    severity: str
    title: str
    file: str = ""
    line: int | None = None
    detail: str = ""
    source: str = "rules"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass
class FileChange:
    """A file of the diff with its added lines (number in the new file, text)."""

    path: str
    added: list[tuple[int, str]] = field(default_factory=list)
    removed: int = 0
    new_file: bool = False
    deleted: bool = False

    @property
    def summary(self) -> str:
        """`path (+a -r)` with new/deleted marks."""
        mark = " (new)" if self.new_file else " (deleted)" if self.deleted else ""
        return f"{self.path}{mark} +{len(self.added)} -{self.removed}"


_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def diff_parse(diff: str) -> list[FileChange]:
    """The files of a unified (git) diff with their added lines."""
    files: list[FileChange] = []
    current: FileChange | None = None
    line_no = 0
    for raw in diff.splitlines():
        if raw.startswith("diff --git "):
            path = raw.split(" b/", 1)[-1]
            current = FileChange(path=path)
            files.append(current)
        elif current is None:
            continue
        elif raw.startswith("new file mode"):
            current.new_file = True
        elif raw.startswith("deleted file mode"):
            current.deleted = True
        elif raw.startswith(("+++", "---")):
            continue
        elif match := _HUNK.match(raw):
            line_no = int(match.group(1))
        elif raw.startswith("+"):
            current.added.append((line_no, raw[1:]))
            line_no += 1
        elif raw.startswith("-"):
            current.removed += 1
        else:
            line_no += 1
    return files


#: (severity, title, pattern, advice) checked on every added line.
LINE_RULES: tuple[tuple[str, str, re.Pattern[str], str], ...] = (
    (
        "CRITICAL",
        "secret in the change",
        re.compile(
            r"sk-[A-Za-z0-9_-]{16,}|sk_live_[A-Za-z0-9]{8,}|AKIA[0-9A-Z]{16}"
            r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
        ),
        "remove it, rotate the key, load it from the environment",
    ),
    ("HIGH", "debugger left in", re.compile(r"\b(?:pdb|ipdb)\.set_trace\(|\bbreakpoint\(\)"), ""),
    ("HIGH", "shell=True", re.compile(r"[(,]\s*shell\s*=\s*True"), "pass an argument list"),
    ("HIGH", "eval/exec", re.compile(r"(?<![\w.])(?:eval|exec)\("), "never evaluate data"),
    ("HIGH", "TLS verification off", re.compile(r"[(,]\s*verify\s*=\s*False"), ""),
    ("HIGH", "DEBUG on", re.compile(r"^\s*DEBUG\s*=\s*True"), ""),
    (
        "MEDIUM",
        "exception swallowed",
        re.compile(r"except(?:\s+Exception)?\s*:\s*pass"),
        "log it or handle it",
    ),
    ("LOW", "bare except", re.compile(r"^\s*except\s*:"), "catch what you expect"),
    ("LOW", "type: ignore added", re.compile(r"#\s*type:\s*ignore(?!\[)"), "name the error code"),
    ("INFO", "TODO/FIXME", re.compile(r"\b(?:TODO|FIXME|XXX)\b"), ""),
)
#: Files whose change deserves a second look (the order path and the safety switches).
SENSITIVE_CODE = (
    "trading/services/order_gate.py",
    "trading/services/execution.py",
    "trading/domain/risk",
    "optionsdesk/redaction.py",
    "optionsdesk/roles.py",
    "trading/services/controls.py",
)


def _line_findings(change: FileChange) -> Iterable[Finding]:
    is_test = change.path.startswith("tests/") or "/tests/" in change.path
    for number, text in change.added:
        for severity, title, pattern, advice in LINE_RULES:
            if is_test and severity not in ("CRITICAL",):
                continue
            if pattern.search(text):
                detail = text.strip()[:160] + (f" — {advice}" if advice else "")
                yield Finding(severity, title, change.path, number, detail)
        if (
            change.path.endswith(".py")
            and not is_test
            and "/management/commands/" not in change.path
            and re.match(r"^\s*print\(", text)
        ):
            yield Finding("LOW", "print() in library code", change.path, number, "use logging")


def _file_findings(files: Sequence[FileChange]) -> Iterable[Finding]:
    code = [f for f in files if f.path.endswith(".py") and not f.path.startswith("tests/")]
    tests = [f for f in files if f.path.startswith("tests/")]
    if code and not tests and any(len(f.added) > 5 for f in code):
        names = ", ".join(f.path for f in code[:3])
        yield Finding(
            "MEDIUM", "code changed without tests", names, None, "add a test that can fail"
        )
    for f in files:
        if any(f.path.startswith(prefix) for prefix in SENSITIVE_CODE):
            yield Finding(
                "HIGH",
                "safety-critical file changed",
                f.path,
                None,
                "the order gate, risk, controls, roles or redaction: re-run their tests",
            )
        if "/migrations/" in f.path and f.new_file:
            yield Finding("INFO", "new migration", f.path, None, "check it on PostgreSQL too")
    added = sum(len(f.added) for f in files)
    if added > 800:
        yield Finding("INFO", "large change", "", None, f"{added} lines added: review in parts")


def review_rules(diff: str) -> list[Finding]:
    """The rules' findings on a diff, most severe first."""
    files = diff_parse(diff)
    findings = [f for change in files for f in _line_findings(change)]
    findings += list(_file_findings(files))
    return findings_sort(findings)


def findings_sort(findings: Iterable[Finding]) -> list[Finding]:
    """Most severe first, then by file and line."""
    return sorted(findings, key=lambda f: (RANK.get(f.severity, 9), f.file, f.line or 0))


def severity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    """How many findings of each severity (every severity present, zero or not)."""
    counts = dict.fromkeys(SEVERITIES, 0)
    for f in findings:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    return counts


def finding_line(f: Finding) -> str:
    """One line for Telegram: `HIGH file:line title — detail`."""
    where = f.file + (f":{f.line}" if f.line else "")
    return f"{f.severity} {where} {f.title}" + (f" — {f.detail}" if f.detail else "")


def next_actions(findings: Sequence[Finding], *, limit: int = 5) -> list[str]:
    """What to do first: the most severe findings as actions."""
    ordered = findings_sort(findings)
    actions = [
        f"{i}. [{f.severity}] {f.title}" + (f" in {f.file}" if f.file else "")
        for i, f in enumerate(ordered[:limit], 1)
        if f.severity != "INFO"
    ]
    return actions or ["Nothing urgent: no finding above INFO."]
