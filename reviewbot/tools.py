"""The bot's tools over the repository: search, open, list, map, status, diff, smoke tests,
security scans and logs. Every tool reads; output is plain text, redacted before it leaves.

A closed registry (`TOOLS`): the LLM may only call these names, and every path argument goes
through `reviewbot.domain.paths.resolve_in_repo` (no traversal, no symlink out, no sensitive
file). Smoke tests and scans are a fixed, named, time-bounded set of commands.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from optionsdesk.redaction import redact
from reviewbot.domain.paths import (
    EXCLUDED_DIRS,
    PathRefused,
    is_sensitive,
    parse_location,
    resolve_in_repo,
)
from reviewbot.domain.review import RANK, SEVERITIES

MAX_OPEN_LINES = 200
MAX_SEARCH_RESULTS = 30
MAX_LIST = 200
MAX_FILE_BYTES = 1_000_000
MAX_DIFF_CHARS = 60_000
COMMAND_TIMEOUT_S = 180
#: Folders searched first (the apps, then tests and docs).
PREFERRED = (
    "optionsdesk",
    "trading",
    "backtests",
    "calibration",
    "greg",
    "steward",
    "reviewbot",
    "templates",
    "tests",
    "docs",
)
TEXT_SUFFIXES = frozenset(
    {".py", ".html", ".md", ".toml", ".cfg", ".ini", ".txt", ".yml", ".yaml", ".json", ".css"}
)
TEXT_SUFFIXES |= {".js", ".sh", ".example", ".in", ""}


def repo_root() -> Path:
    """The repository the bot reads (settings.REVIEWBOT_REPO_DIR, else the project's)."""
    return Path(getattr(settings, "REVIEWBOT_REPO_DIR", None) or settings.BASE_DIR).resolve()


class ToolError(ValueError):
    """A tool call the tool refuses (bad arguments or a refused path)."""


def _files(root: Path) -> Iterator[Path]:
    """Text files of the tree, preferred folders first, excluded and sensitive ones skipped."""
    top = sorted(p for p in root.iterdir())
    order = sorted(
        top,
        key=lambda p: (
            p.name not in PREFERRED,
            PREFERRED.index(p.name) if p.name in PREFERRED else 0,
            p.name,
        ),
    )
    for entry in order:
        if entry.is_symlink():
            continue
        if entry.is_file():
            if entry.suffix in TEXT_SUFFIXES and not is_sensitive(entry.name):
                yield entry
            continue
        if entry.name in EXCLUDED_DIRS or not entry.is_dir():
            continue
        for folder, dirs, files in os.walk(entry):
            dirs[:] = sorted(d for d in dirs if d not in EXCLUDED_DIRS and not d.startswith("."))
            for name in sorted(files):
                path = Path(folder) / name
                rel = path.relative_to(root).as_posix()
                if path.is_symlink() or path.suffix not in TEXT_SUFFIXES or is_sensitive(rel):
                    continue
                yield path


def _file_hits(path: Path, root: Path, needle: str, context: int) -> list[str]:
    """The hits of one file as `path:line` plus numbered context lines."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return []
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    rel = path.relative_to(root).as_posix()
    hits = []
    for i, line in enumerate(lines):
        if needle in line.lower():
            lo, hi = max(0, i - context), min(len(lines), i + context + 1)
            snippet = "\n".join(f"  {n + 1}: {lines[n][:200]}" for n in range(lo, hi))
            hits.append(f"{rel}:{i + 1}\n{snippet}")
    return hits


def search_repo(args: Mapping[str, Any]) -> str:
    """Case-insensitive search for `query` (plain text), with `context` lines around each hit."""
    query = str(args.get("query") or "").strip()
    if len(query) < 2:
        raise ToolError("search needs at least 2 characters")
    limit = max(1, min(int(args.get("limit") or 20), MAX_SEARCH_RESULTS))
    context = max(0, min(int(args.get("context") or 1), 3))
    root = repo_root()
    base = resolve_in_repo(root, str(args["path"]))[0] if args.get("path") else root
    hits: list[str] = []
    files = 0
    for path in _files(root):
        if base != root and base not in path.parents and path != base:
            continue
        found = _file_hits(path, root, query.lower(), context)
        files += bool(found)
        hits += found
        if len(hits) >= limit:
            return f"{limit} hit(s) for {query!r} (limit reached):\n" + "\n".join(hits[:limit])
    if not hits:
        return f"no match for {query!r}"
    return f"{len(hits)} hit(s) in {files} file(s) for {query!r}:\n" + "\n".join(hits)


def open_file(args: Mapping[str, Any]) -> str:
    """Lines of a file (`path:start-end`, at most 200), numbered."""
    location = str(args.get("path") or "")
    path_text, start, end = parse_location(location)
    if args.get("start"):
        start = int(args["start"])
    if args.get("end"):
        end = int(args["end"])
    real, rel = resolve_in_repo(repo_root(), path_text)
    if real.is_dir():
        raise ToolError(f"{rel} is a folder: use list_files")
    if not real.is_file():
        raise ToolError(f"no file {rel}")
    if real.stat().st_size > MAX_FILE_BYTES * 5:
        raise ToolError(f"{rel} is too large to open")
    lines = real.read_text(encoding="utf-8", errors="replace").splitlines()
    first = max(1, start or 1)
    last = min(len(lines), end or first + MAX_OPEN_LINES - 1, first + MAX_OPEN_LINES - 1)
    if first > len(lines):
        return f"{rel} has {len(lines)} lines"
    body = "\n".join(f"{n:>5}  {lines[n - 1]}" for n in range(first, last + 1))
    more = f" of {len(lines)}" + (" (at most 200 lines at once)" if last < len(lines) else "")
    return f"{rel} lines {first}-{last}{more}:\n{body}"


def list_files(args: Mapping[str, Any]) -> str:
    """Files under a folder (optionally matching a glob), with sizes."""
    root = repo_root()
    folder, rel = resolve_in_repo(root, str(args.get("path") or "."))
    if not folder.is_dir():
        raise ToolError(f"{rel} is not a folder")
    pattern = str(args.get("pattern") or "*")
    rows = []
    for entry in sorted(folder.iterdir()):
        name = entry.name
        child = entry.relative_to(root).as_posix()
        if name in EXCLUDED_DIRS or is_sensitive(child) or name.startswith(".git"):
            continue
        if not fnmatch.fnmatch(name, pattern):
            continue
        if entry.is_symlink():
            rows.append(f"{child} -> (symlink)")
        elif entry.is_dir():
            rows.append(f"{child}/")
        else:
            rows.append(f"{child}  {entry.stat().st_size:,} B")
        if len(rows) >= MAX_LIST:
            rows.append("… (more)")
            break
    return "\n".join(rows) or "nothing matches"


def get_project_map(args: Mapping[str, Any]) -> str:
    """The top-level layout: each app's purpose (its docstring) and file counts, and the docs."""
    root = repo_root()
    lines = []
    for entry in sorted(root.iterdir()):
        skip = entry.name in EXCLUDED_DIRS or entry.name.endswith(".egg-info")
        if skip or entry.name.startswith(".") or not entry.is_dir():
            continue
        count = sum(1 for _ in entry.rglob("*.py")) if entry.name != "static" else 0
        purpose = ""
        init = entry / "__init__.py"
        if init.is_file():
            text = init.read_text(encoding="utf-8", errors="replace").strip()
            purpose = text.splitlines()[0].strip('"').strip() if text.startswith('"""') else ""
        lines.append(f"{entry.name}/  {count} .py  {purpose}".rstrip())
    docs = root / "docs"
    if docs.is_dir():
        lines.append("docs: " + ", ".join(sorted(p.name for p in docs.glob("*.md"))))
    return "\n".join(lines)


def _git(*argv: str, timeout: float = 20) -> str | None:
    root = repo_root()
    if not (root / ".git").exists():
        return None
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def get_status(args: Mapping[str, Any]) -> str:
    """Branch, last commit, uncommitted files, and the configuration switches."""
    branch = (_git("rev-parse", "--abbrev-ref", "HEAD") or "").strip() or "(no git)"
    head = (_git("log", "-1", "--format=%h %s (%cr)") or "").strip()
    dirty = [line for line in (_git("status", "--porcelain") or "").splitlines() if line]
    app = settings.APP
    return "\n".join(
        [
            f"Repository: {branch} at {head or '?'}; {len(dirty)} uncommitted file(s).",
            f"Deribit environment: {settings.DERIBIT_ENV}; LLM: "
            f"{'on (' + app.OPENAI_MODEL + ')' if settings.LLM_ENABLED else 'off'}.",
            f"Python {sys.version.split()[0]}.",
        ]
    )


@dataclass(frozen=True, slots=True)
class Change:
    """The latest change: a stable key, a title, and its unified diff (may be empty)."""

    key: str
    title: str
    diff: str
    source: str  # "git-worktree", "git-commit" or "snapshot"


def latest_change() -> Change:
    """Uncommitted changes when there are some, else the last commit; without git, the
    difference from the stored tree snapshot."""
    worktree = _git("diff", "HEAD", "--no-color", "--no-ext-diff")
    if worktree:
        key = "wt-" + hashlib.sha256(worktree.encode()).hexdigest()[:16]
        return Change(key, "uncommitted changes", worktree[:MAX_DIFF_CHARS], "git-worktree")
    commit = _git("show", "HEAD", "--no-color", "--format=%H%n%s", "--no-ext-diff")
    if commit:
        sha, _, rest = commit.partition("\n")
        title, _, diff = rest.partition("\n")
        return Change(
            f"commit-{sha[:16]}", f"{sha[:8]} {title}", diff[:MAX_DIFF_CHARS], "git-commit"
        )
    from reviewbot.services import snapshot_diff

    return snapshot_diff()


def tree_texts(limit_bytes: int = 100_000) -> dict[str, str]:
    """Text of every small source file (for the snapshot used when there is no git)."""
    root = repo_root()
    texts = {}
    for path in _files(root):
        try:
            if path.stat().st_size <= limit_bytes:
                texts[path.relative_to(root).as_posix()] = path.read_text(
                    encoding="utf-8", errors="replace"
                )
        except OSError:
            continue
    return texts


def get_latest_diff(args: Mapping[str, Any]) -> str:
    """The latest change's diff (uncommitted, else the last commit, else the snapshot)."""
    change = latest_change()
    return f"{change.title} [{change.source}]\n{change.diff or '(no changes)'}"


#: The bounded, named smoke tests: name -> (argv, what it checks).
SMOKE_TESTS: dict[str, tuple[list[str], str]] = {
    "django_check": ([sys.executable, "manage.py", "check"], "Django system checks"),
    "migrations": (
        [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"],
        "models and migrations agree",
    ),
    "imports": (
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command; "
            "sys.exit(lint_imports_command())",
        ],
        "layer contracts (.importlinter)",
    ),
    "rules": (
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/steward/test_rules.py",
        ],
        "the steward's rules (fast unit tests)",
    ),
}


def _run(argv: list[str]) -> tuple[bool, str]:
    try:
        done = subprocess.run(
            argv,
            cwd=repo_root(),
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False, f"timed out after {COMMAND_TIMEOUT_S} s"
    except OSError as exc:
        return False, f"could not run: {exc}"
    tail = (done.stdout + done.stderr).strip().splitlines()[-8:]
    return done.returncode == 0, "\n".join(tail)


def run_smoke_tests(args: Mapping[str, Any]) -> str:
    """Run named smoke tests (default: all of `SMOKE_TESTS`), each bounded in time."""
    names = args.get("names") or list(SMOKE_TESTS)
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in names if n not in SMOKE_TESTS]
    if unknown:
        raise ToolError(f"unknown smoke test(s) {unknown}; the set is {list(SMOKE_TESTS)}")
    lines, passed = [], 0
    for name in names:
        ok, tail = _run(SMOKE_TESTS[name][0])
        passed += ok
        lines.append(f"{'PASS' if ok else 'FAIL'} {name} ({SMOKE_TESTS[name][1]})\n{tail}")
    return f"{passed}/{len(names)} smoke test(s) passed\n" + "\n".join(lines)


#: Offline checks of the source: (severity, title, regex).
SCAN_RULES: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    (
        "CRITICAL",
        "hard-coded API key",
        re.compile(r"\b(?:sk-[A-Za-z0-9_-]{16,}|sk_live_[A-Za-z0-9]{8,}|AKIA[0-9A-Z]{16})"),
    ),
    ("CRITICAL", "private key block", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("HIGH", "shell=True in subprocess", re.compile(r"[(,]\s*shell\s*=\s*True")),
    ("HIGH", "eval/exec of data", re.compile(r"(?<![\w.])(?:eval|exec)\(")),
    ("HIGH", "pickle load of data", re.compile(r"pickle\.loads?\(")),
    ("HIGH", "TLS verification off", re.compile(r"[(,]\s*verify\s*=\s*False")),
    ("MEDIUM", "yaml.load without SafeLoader", re.compile(r"yaml\.load\((?![^)]*SafeLoader)")),
    ("MEDIUM", "csrf_exempt view", re.compile(r"^\s*@csrf_exempt", re.M)),
    ("MEDIUM", "mark_safe on a value", re.compile(r"mark_safe\(")),
    ("LOW", "bare except", re.compile(r"except\s*:")),
    ("LOW", "DEBUG = True", re.compile(r"^\s*DEBUG\s*=\s*True", re.M)),
)


def run_security_scans(args: Mapping[str, Any]) -> str:
    """Offline scans of the source tree (no network): secrets, dangerous calls, TLS off, ..."""
    root = repo_root()
    findings: list[tuple[int, str]] = []
    counts: dict[str, int] = {}
    for path in _files(root):
        rel = path.relative_to(root).as_posix()
        if path.suffix not in (".py", ".html", ".toml", ".cfg", ".yml", ".yaml", ".sh", ".example"):
            continue
        if rel.startswith("tests/") and not args.get("include_tests"):
            continue
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for severity, title, pattern in SCAN_RULES:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                counts[severity] = counts.get(severity, 0) + 1
                findings.append((RANK[severity], f"{severity} {title} at {rel}:{line}"))
    head = ", ".join(f"{k} {counts[k]}" for k in SEVERITIES if k in counts) or "nothing found"
    shown = [text for _, text in sorted(findings)[:40]]
    return f"Security scan (offline, {len(SCAN_RULES)} rules): {head}\n" + "\n".join(shown)


def tail_logs(args: Mapping[str, Any]) -> str:
    """The last lines (at most 200) of a log file under var/logs (or the bot's own log)."""
    lines = max(1, min(int(args.get("lines") or 50), 200))
    folder = Path(settings.VAR_DIR) / "logs"
    name = str(args.get("name") or "")
    logs = sorted(folder.glob("*.log")) if folder.is_dir() else []
    if not logs:
        return "no log files under var/logs (processes log to their console)"
    chosen = next((p for p in logs if p.stem == name or p.name == name), None) if name else logs[-1]
    if chosen is None:
        return f"no log {name!r}; there are: {', '.join(p.name for p in logs)}"
    text = chosen.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    return f"{chosen.name}, last {len(text)} line(s):\n" + "\n".join(text)


@dataclass(frozen=True, slots=True)
class Tool:
    """A tool: its OpenAI definition and the function that answers it."""

    name: str
    description: str
    parameters: dict[str, Any]
    run: Callable[[Mapping[str, Any]], str]

    def spec(self) -> dict[str, Any]:
        """The OpenAI `tools` entry."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


def _obj(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


TOOLS: dict[str, Tool] = {
    t.name: t
    for t in (
        Tool(
            "search_repo",
            "Case-insensitive text search over the repository's source (apps first), with "
            "context lines; optionally under one folder.",
            _obj(
                {
                    "query": {"type": "string"},
                    "path": {"type": "string"},
                    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_SEARCH_RESULTS},
                    "context": {"type": "integer", "minimum": 0, "maximum": 3},
                },
                ("query",),
            ),
            search_repo,
        ),
        Tool(
            "open_file",
            "Numbered lines of one repository file: 'path', 'path:120' or 'path:120-180' "
            "(at most 200 lines).",
            _obj({"path": {"type": "string"}}, ("path",)),
            open_file,
        ),
        Tool(
            "list_files",
            "Files of a repository folder with sizes, optionally matching a glob.",
            _obj({"path": {"type": "string"}, "pattern": {"type": "string"}}),
            list_files,
        ),
        Tool("get_project_map", "The project's layout: apps and docs.", _obj({}), get_project_map),
        Tool("get_status", "Repository and configuration status.", _obj({}), get_status),
        Tool(
            "get_latest_diff",
            "The latest change's diff (uncommitted, else the last commit).",
            _obj({}),
            get_latest_diff,
        ),
        Tool(
            "run_smoke_tests",
            f"Run named smoke tests: {', '.join(SMOKE_TESTS)} (default all).",
            _obj(
                {"names": {"type": "array", "items": {"type": "string", "enum": list(SMOKE_TESTS)}}}
            ),
            run_smoke_tests,
        ),
        Tool(
            "run_security_scans",
            "Offline security scan of the source: secrets, dangerous calls, TLS checks off.",
            _obj({"include_tests": {"type": "boolean"}}),
            run_security_scans,
        ),
        Tool(
            "tail_logs",
            "The last lines of a log file under var/logs.",
            _obj({"name": {"type": "string"}, "lines": {"type": "integer", "maximum": 200}}),
            tail_logs,
        ),
    )
}


def tool_specs() -> list[dict[str, Any]]:
    """Every tool's OpenAI definition."""
    return [t.spec() for t in TOOLS.values()]


def tool_run(name: str, arguments: str | Mapping[str, Any]) -> tuple[bool, str]:
    """Run one listed tool: (ok, redacted text). Refusals and errors come back as text."""
    tool = TOOLS.get(name)
    if tool is None:
        return False, f"unknown tool {name!r}; the tools are {', '.join(TOOLS)}"
    if isinstance(arguments, str):
        try:
            parsed = json.loads(arguments or "{}")
        except json.JSONDecodeError:
            return False, f"arguments of {name} are not JSON"
    else:
        parsed = dict(arguments)
    if not isinstance(parsed, dict):
        return False, f"arguments of {name} must be an object"
    try:
        return True, redact(tool.run(parsed))
    except (PathRefused, ToolError) as exc:
        return False, redact(str(exc))
    except (TypeError, ValueError) as exc:
        return False, redact(f"bad arguments for {name}: {exc}")
