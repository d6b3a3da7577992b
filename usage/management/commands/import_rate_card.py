"""Import a rate card (CSV): preview what it changes, then apply it (docs/usage.md, "Rate cards")."""

import os

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from usage.services.rate_cards import (
    CardRejected,
    apply_rate_card,
    check_size,
    discard_rate_card,
    read_and_preview,
    stage_rate_card,
)


def describe(preview, out, limit=20):
    """The preview as lines of text: counts, then the changes (up to `limit` of each kind)."""
    counts = preview.counts
    out.write(
        f"Card of {len(preview.card.lines)} line(s) in {preview.card.currency}, from {preview.effective_from}: "
        f"{counts['new_lines']} new, {counts['changed_lines']} changed, {counts['removed_lines']} removed, "
        f"{counts['unchanged_lines']} unchanged."
    )
    for change in preview.new[:limit]:
        line = change.line
        out.write(f"  new      {line.kind} {line.where}: {line.price} {line.currency} from {line.effective_from} (line {line.line})")
    for change in preview.changed[:limit]:
        line, old = change.line, change.old
        out.write(
            f"  changed  {line.kind} {line.where}: {old.per_unit} -> {line.price} {line.currency}"
            f" (fee {old.connection_fee} -> {line.connection_fee}, {old.minimum_seconds}/{old.increment_seconds} -> "
            f"{line.minimum_seconds}/{line.increment_seconds} s) from {line.effective_from} (line {line.line})"
        )
    for old in preview.removed[:limit]:
        where = f"+{old.prefix}" if old.prefix else old.country
        out.write(f"  removed  {old.kind} {where}: {old.per_unit} {old.currency} ends on {preview.effective_from}")


class Command(BaseCommand):
    help = "Import a rate card CSV: --dry-run shows what it would change; without it the card is applied."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--dry-run", action="store_true", help="Show new, changed and removed lines; change nothing.")
        parser.add_argument(
            "--allow-past", action="store_true",
            help="Let lines start on days that have begun: only for loading a history before any usage is rated.",
        )

    def handle(self, *args, file, dry_run, allow_past, **options):
        try:
            check_size(os.path.getsize(file))
            with open(file, "rb") as f:
                if dry_run:
                    preview = read_and_preview(f.read().decode("utf-8-sig"), allow_past=allow_past)
                    describe(preview, self.stdout)
                    self.stdout.write("Dry run: nothing was changed.")
                    return
                card, preview = stage_rate_card(File(f, name=file), filename=os.path.basename(file), allow_past=allow_past)
            describe(preview, self.stdout)
            if not preview.changes_anything:
                discard_rate_card(card.pk)
                self.stdout.write(self.style.SUCCESS("The card changes nothing: the table already holds it."))
                return
            apply_rate_card(card.pk, allow_past=allow_past)
            self.stdout.write(self.style.SUCCESS(f"Rate card {card.pk} applied."))
        except OSError as exc:
            raise CommandError(f"{file}: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise CommandError(f"{file}: the file is not UTF-8 text ({exc.reason}).") from None
        except CardRejected as exc:
            more = "\n(more problems were not listed)" if exc.truncated else ""
            raise CommandError("The card was refused; nothing was changed:\n" + "\n".join(exc.errors) + more) from None

