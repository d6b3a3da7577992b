"""Purge call and SMS records past the retention period now, as the daily task does."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from billing.models import Organization
from usage.services.retention import cutoff_day, purge_expired_usage


class Command(BaseCommand):
    help = (
        "Delete call and SMS records that start before the cut-off (today, UTC, less the report's year and "
        "USAGE_RETENTION_MARGIN_DAYS), and the per-day figures of those days, a batch per transaction. "
        "The ledger is never touched. Running it twice deletes nothing more."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing.")
        parser.add_argument("--organization", help="Only this organization (its slug).")
        parser.add_argument("--batch-size", type=int, help="Rows per transaction (default USAGE_RETENTION_BATCH_ROWS).")
        parser.add_argument("--today", type=date.fromisoformat, help="Purge as if today (UTC) were this day, YYYY-MM-DD (the cut-off moves with it).")

    def handle(self, *args, dry_run, organization, batch_size, today, **options):
        ids = None
        if organization:
            ids = list(Organization.objects.filter(slug=organization).values_list("pk", flat=True))
            if not ids:
                raise CommandError(f"No organization with the slug {organization!r}.")
        if batch_size is not None and batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        self.stdout.write(f"Cut-off: records before {cutoff_day(today)} 00:00 UTC leave.")
        result = purge_expired_usage(today=today, batch_size=batch_size, dry_run=dry_run, organization_ids=ids)
        verb = "Would delete" if dry_run else "Deleted"
        if not result.deleted:
            self.stdout.write(self.style.SUCCESS("Nothing to delete."))
        for label, count in sorted(result.deleted.items()):
            self.stdout.write(f"{verb} {count:,} {label}.")
        if result.kept_for_incidents:
            self.stdout.write(f"Kept {result.kept_for_incidents:,} calls of open incidents.")

