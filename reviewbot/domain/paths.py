"""Which repository paths the bot may show: inside the tree, not sensitive, not excluded.

Pure (pathlib only): the repository root is passed in. A path is resolved with symlinks
followed, so `../../etc/passwd` and a symlink pointing out of the tree both land outside the
root and are refused. Sensitive files (environment files, keys, the secret key, credentials)
are refused even inside the tree.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path, PurePosixPath

#: Folders never searched or listed (VCS, caches, virtualenvs, runtime state).
EXCLUDED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".venv",
        "venv",
        "env",
        "node_modules",
        "__pycache__",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        ".import_linter_cache",
        "var",
        "staticfiles",
        "htmlcov",
        ".tox",
        "dist",
        "build",
    }
)

#: Sensitive names (glob patterns on the file name, case-insensitive).
SENSITIVE_NAMES = (
    ".env",
    ".env.*",
    "*.env",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    "*secret*",
    "*credential*",
    ".netrc",
    ".pgpass",
    ".htpasswd",
    "*.sqlite3",
)
#: Harmless names that the patterns above would catch.
SENSITIVE_ALLOWED = (".env.example",)


class PathRefused(ValueError):
    """A path the bot will not open, with the reason (safe to show)."""


def is_sensitive(relative: PurePosixPath | str) -> bool:
    """True for files that may hold secrets (by any component's name)."""
    parts = PurePosixPath(str(relative)).parts
    for part in parts:
        name = part.lower()
        if name in SENSITIVE_ALLOWED:
            continue
        if any(fnmatch.fnmatch(name, pattern) for pattern in SENSITIVE_NAMES):
            return True
    return False


def is_excluded(relative: PurePosixPath | str) -> bool:
    """True when any folder of the path is one the bot never searches."""
    return any(part in EXCLUDED_DIRS for part in PurePosixPath(str(relative)).parts[:-1])


def resolve_in_repo(root: Path, raw: str) -> tuple[Path, str]:
    """The real path of `raw` (relative to `root`) and its repository-relative name.

    Raises `PathRefused` for absolute paths, anything resolving outside `root` (traversal or
    a symlink out of the tree), sensitive files and excluded folders.
    """
    text = raw.strip().strip("`'\"")
    if not text or text in (".", "./"):
        return root.resolve(), "."
    if "\x00" in text:
        raise PathRefused("refused: invalid path")
    candidate = Path(text)
    if candidate.is_absolute():
        raise PathRefused("refused: absolute paths are outside the repository")
    base = root.resolve()
    real = (base / candidate).resolve()
    if real != base and base not in real.parents:
        raise PathRefused("refused: the path is outside the repository")
    relative = real.relative_to(base).as_posix()
    lexical = PurePosixPath(text.replace("\\", "/"))
    if is_sensitive(relative) or is_sensitive(lexical):
        raise PathRefused(f"refused: {relative} is a sensitive file")
    if is_excluded(relative) or (real.is_dir() and is_excluded(relative + "/x")):
        raise PathRefused(f"refused: {relative} is not part of the source tree")
    return real, relative


def parse_location(text: str) -> tuple[str, int | None, int | None]:
    """`path`, `path:12` or `path:12-40` to (path, start, end); lines are 1-based."""
    path, sep, span = text.strip().rpartition(":")
    if not sep or not span.replace("-", "").isdigit():
        return text.strip(), None, None
    first, _, last = span.partition("-")
    start = int(first)
    end = int(last) if last else None
    return path, start, end
