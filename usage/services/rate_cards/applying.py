"""What a rate card changes (the preview) and applying it: new lines from their date, the lines they
replace closed the day before, lines the card no longer has closed from the card's date. History is
never rewritten: a line that has started keeps its price; only a line that has not started yet may be
changed or dropped."""

import io
from dataclasses import dataclass, field
from datetime import date

from django.db import transaction
from django.utils import timezone

from ...models import Rate, RateCard
from .reading import Card, CardLine, CardRejected, check_size, read_card

PRICE_FIELDS = ("number_type", "description", "per_unit", "connection_fee", "minimum_seconds", "increment_seconds")


@dataclass
class Change:
    line: CardLine
    old: Rate | None  # the line it replaces (changed) or None (new)


@dataclass
class Preview:
    card: Card
    effective_from: date  # the card's date: the latest date of its lines (today at the earliest); removed lines end there
    new: list = field(default_factory=list)  # [Change]
    changed: list = field(default_factory=list)  # [Change]
    removed: list = field(default_factory=list)  # [Rate]
    unchanged: int = 0

    @property
    def counts(self):
        return dict(new_lines=len(self.new), changed_lines=len(self.changed), removed_lines=len(self.removed), unchanged_lines=self.unchanged)

    @property
    def changes_anything(self):
        return bool(self.new or self.changed or self.removed)


def _today():
    return timezone.now().date()


def _values(line: CardLine):
    return dict(
        number_type=line.number_type, description=line.description, per_unit=line.price, connection_fee=line.connection_fee,
        minimum_seconds=line.minimum_seconds, increment_seconds=line.increment_seconds,
    )


def _same(rate: Rate, line: CardLine):
    values = _values(line)
    return all(getattr(rate, name) == values[name] for name in PRICE_FIELDS) and rate.country == line.country


def _key(rate: Rate):
    return (rate.kind, rate.prefix if rate.kind == "outbound" else rate.country)


def preview_card(card: Card, *, allow_past=False) -> Preview:
    """Compare a card with the table's latest line of each prefix or country, in the card's currency.

    Raises CardRejected when a change would rewrite a day that has begun (unless `allow_past`, for
    loading a history before any usage) or does not start after the line it replaces."""
    today = _today()
    latest = {}
    for rate in Rate.objects.filter(currency=card.currency).order_by("effective_from", "pk"):
        latest[_key(rate)] = rate
    # The card's date, where the lines it no longer has end: its latest line's, and never a day that
    # has ended (an exported card, all of whose lines started long ago, ends a dropped line today).
    effective = max(line.effective_from for line in card.lines)
    if not allow_past:
        effective = max(effective, today)
    preview = Preview(card, effective)
    errors = []
    for line in card.lines:
        old = latest.get(line.key)
        if old is not None and old.effective_to is None and _same(old, line):
            preview.unchanged += 1
            continue
        if line.effective_from < today and not allow_past:
            errors.append(
                f"line {line.line}: {line.where} {'changes' if old else 'is new'} from {line.effective_from}, a day that has "
                f"begun; a new price starts today ({today}) or later, so that calls keep the price of their day."
            )
            continue
        if old is None or old.effective_to is not None:
            if old is not None and line.effective_from < old.effective_to:
                errors.append(f"line {line.line}: {line.where} starts on {line.effective_from}, before its last line ended ({old.effective_to}).")
                continue
            preview.new.append(Change(line, None))
            continue
        if line.effective_from < old.effective_from or (line.effective_from == old.effective_from and old.effective_from <= today):
            errors.append(
                f"line {line.line}: {line.where} changes from {line.effective_from}, but its current line starts on "
                f"{old.effective_from}: a change starts after it."
            )
            continue
        preview.changed.append(Change(line, old))
    in_card = {line.key for line in card.lines}
    for key, rate in latest.items():
        if key in in_card or rate.effective_to is not None:
            continue
        if rate.effective_from >= effective and (rate.effective_from <= today or allow_past):
            errors.append(f"{rate.kind} {_where(rate)} is not on the card, but its line starts on {rate.effective_from}, "
                          f"not before the card's date {effective}.")
            continue
        preview.removed.append(rate)
    if errors:
        raise CardRejected(errors[:50], truncated=len(errors) > 50)
    return preview


def _where(rate):
    return f"+{rate.prefix}" if rate.kind == "outbound" else rate.country


def read_and_preview(text: str, *, allow_past=False) -> Preview:
    return preview_card(read_card(io.StringIO(text)), allow_past=allow_past)


def stage_rate_card(upload, *, filename="", actor=None, allow_past=False) -> tuple[RateCard, Preview]:
    """Read an uploaded card (size checked first) and keep it, previewed, for apply_rate_card."""
    check_size(upload.size)
    raw = upload.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CardRejected([f"The file is not UTF-8 text ({exc.reason})."]) from None
    preview = read_and_preview(text, allow_past=allow_past)
    card = RateCard.objects.create(
        currency=preview.card.currency, effective_from=preview.effective_from, filename=filename[:255], text=text,
        lines=len(preview.card.lines), created_by=actor, **preview.counts,
    )
    return card, preview


def apply_rate_card(card_id: int, *, allow_past=False) -> tuple[RateCard, Preview]:
    """Apply a previewed card, all or nothing; refused when the table changed since its preview."""
    with transaction.atomic():
        card = RateCard.objects.select_for_update().get(pk=card_id)
        if card.status != RateCard.Status.PREVIEWED:
            raise CardRejected([f"This card was already {card.get_status_display().lower()}."])
        list(Rate.objects.select_for_update().filter(currency=card.currency).values_list("pk", flat=True))
        preview = read_and_preview(card.text, allow_past=allow_past)
        stored = {name: getattr(card, name) for name in preview.counts}
        if stored != preview.counts:
            raise CardRejected(["The rate table changed since this card was previewed: upload it again to see what it changes now."])
        _write(card, preview)
        card.status = RateCard.Status.APPLIED
        card.applied_at = timezone.now()
        card.save(update_fields=["status", "applied_at"])
    return card, preview


def discard_rate_card(card_id: int) -> RateCard:
    with transaction.atomic():
        card = RateCard.objects.select_for_update().get(pk=card_id)
        if card.status == RateCard.Status.PREVIEWED:
            card.status = RateCard.Status.DISCARDED
            card.save(update_fields=["status"])
    return card


def _write(card: RateCard, preview: Preview):
    today = _today()
    new_rows = []
    for change in preview.changed:
        old, line = change.old, change.line
        if old.effective_from == line.effective_from:  # a line that has not started yet: corrected in place
            for name, value in _values(line).items():
                setattr(old, name, value)
            old.country, old.card = line.country, card
            old.save()
            continue
        old.effective_to = line.effective_from
        old.save(update_fields=["effective_to"])
        new_rows.append(_rate(card, line))
    for change in preview.new:
        new_rows.append(_rate(card, change.line))
    for old in preview.removed:
        if old.effective_from >= preview.effective_from and old.effective_from > today:
            old.delete()  # scheduled, never in effect
        else:
            old.effective_to = preview.effective_from
            old.save(update_fields=["effective_to"])
    Rate.objects.bulk_create(new_rows)


def _rate(card, line: CardLine) -> Rate:
    return Rate(
        kind=line.kind, prefix=line.prefix, country=line.country, currency=line.currency,
        effective_from=line.effective_from, card=card, **_values(line),
    )
