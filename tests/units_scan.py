"""Scan a rendered page for what a trader should never read: snake_case names and raw floats.

Text the page shows is checked (not attributes, scripts, styles, charts' SVG, and not
`<code>`/`<pre>`, which show identifiers and payloads on purpose).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

#: Elements whose text is not prose (identifiers, payloads, drawings).
SKIPPED = {"script", "style", "code", "pre", "svg", "textarea", "kbd", "samp"}
SNAKE = re.compile(r"(?<![\w./:-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w/-])")
#: Identifiers that are names, not metrics: policy versions ("rb_v1_explore") in the agent's
#: own sentences.
ALLOWED = re.compile(r"^(?:rb|llm)_v\d+(?:_[a-z]+)*$")
#: More than six decimals (coins have six), or a long figure with no thousands separator.
RAW_FLOAT = re.compile(r"(?<![\d.,])(?:\d+\.\d{7,}|\d{4,}\.\d+)(?![\d])")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.chunks: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIPPED:
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED and self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if not self.depth and data.strip():
            self.chunks.append(data.strip())


def shown_text(html: str) -> list[str]:
    """The text chunks a reader sees (outside the skipped elements)."""
    parser = _Text()
    parser.feed(html)
    return parser.chunks


def unit_problems(html: str, *, snake_case: bool = True) -> list[str]:
    """Each snake_case word and unformatted float a reader would see, with its context."""
    checks = [(RAW_FLOAT, "raw float")] + ([(SNAKE, "snake_case")] if snake_case else [])
    problems = []
    for chunk in shown_text(html):
        for pattern, what in checks:
            for match in pattern.finditer(chunk):
                if what == "snake_case" and ALLOWED.match(match.group(0)):
                    continue
                problems.append(f"{what} {match.group(0)!r} in {chunk[:120]!r}")
    return sorted(set(problems))
