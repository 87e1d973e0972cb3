"""Going live with a paper book: keep it apart, clearly labelled, or archive it at its marks.

When dry run is switched off, open paper positions (dry-run fills, never on the exchange) are
either kept as a separate PAPER book (the default: still marked, still expiring on paper, shown
with a badge and their own subtotal, never managed by the live agent because the tick only adds
paper positions to its portfolio while dry run is on) or archived by the operator's choice:
each is closed at its last mark (`settled_coin` = size x mark, status `archived`, a note
saying so), so the paper book's P&L is final and nothing paper is left open beside real rows.
No order is involved: paper positions exist only in our database.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from trading.models import AgentStatus, Position, RuntimeControlChange


def paper_positions_open() -> list[Position]:
    """The open paper positions (the paper book)."""
    return list(Position.objects.filter(status=Position.Status.OPEN, paper=True))


def paper_book_archive(*, user: str, source: str = "dashboard") -> list[Position]:
    """Archive every open paper position at the last tick's mark (audited); returns them.

    A position without a mark is archived at its entry price (P&L of zero for the rest of it)
    and the note says so.
    """
    marks = (AgentStatus.load().last_summary or {}).get("marks") or {}
    archived: list[Position] = []
    now = timezone.now()
    with transaction.atomic():
        for position in Position.objects.select_for_update().filter(
            status=Position.Status.OPEN, paper=True
        ):
            mark = (marks.get(position.instrument_name) or {}).get("mark")
            price = Decimal(str(mark)) if mark is not None else position.average_price_coin
            how = f"its last mark {price:f}" if mark is not None else "its entry (no mark)"
            position.settled_coin = (position.size * price).quantize(Decimal("1e-10"))
            position.status = Position.Status.ARCHIVED
            position.closed_at = now
            position.note = f"archived by {user or 'an operator'} when going live, at {how}"[:300]
            position.save(update_fields=["settled_coin", "status", "closed_at", "note"])
            archived.append(position)
        if archived:
            RuntimeControlChange.objects.create(
                changed_by=user,
                source=source,
                changes={"paper_book": ["kept", "archived"]},
                note=f"archived {len(archived)} paper position(s) at their marks",
            )
    return archived
