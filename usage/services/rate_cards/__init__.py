"""Rate cards: read a CSV card, preview what it changes, apply it without rewriting history, and the
card format the export writes (docs/usage.md, "Rate cards")."""

from .applying import Preview, apply_rate_card, discard_rate_card, preview_card, read_and_preview, stage_rate_card
from .reading import COLUMN_HELP, COLUMNS, Card, CardLine, CardRejected, check_size, read_card, write_card

__all__ = [
    "COLUMNS",
    "COLUMN_HELP",
    "Card",
    "CardLine",
    "CardRejected",
    "Preview",
    "apply_rate_card",
    "check_size",
    "discard_rate_card",
    "preview_card",
    "read_and_preview",
    "read_card",
    "stage_rate_card",
    "write_card",
]
