"""Import call or SMS records from files of any size: the same service as the upload page."""

from django.core.management.base import BaseCommand, CommandError

from billing.models import Organization
from usage.choices import RecordKind
from usage.services.ingest import ImportRejected, import_file


class Command(BaseCommand):
    help = (
        "Import usage for an organization from the original export (.zip or .csv, older or current columns) "
        "or Microsoft Graph pages (.json, or .jsonl with one page per line). All or nothing; importing a file "
        "twice changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("organization", help="The organization's slug, e.g. contoso.")
        parser.add_argument("paths", nargs="+", help="Files to import, one import each.")
        parser.add_argument("--kind", choices=RecordKind.values, default=RecordKind.PSTN, help="pstn (calls, default) or sms.")

    def handle(self, *args, organization, paths, kind, **options):
        try:
            org = Organization.objects.get(slug=organization)
        except Organization.DoesNotExist:
            raise CommandError(f"No organization with the slug {organization!r}.") from None
        failed = False
        for path in paths:
            try:
                with open(path, "rb") as handle:
                    result = import_file(org, handle, path, kind, origin="command")
            except OSError as exc:
                raise CommandError(f"{path}: {exc.strerror}.") from None
            except ImportRejected as rejected:
                failed = True
                self.stderr.write(self.style.ERROR(f"{path}: nothing was imported."))
                for error in rejected.errors:
                    self.stderr.write(f"  {error}")
                if rejected.truncated:
                    self.stderr.write(f"  (stopped after {len(rejected.errors)} problems)")
                continue
            self.stdout.write(
                self.style.SUCCESS(
                    f"{path}: {result.created:,} new of {result.rows_read:,} rows, {result.duplicates:,} already imported, "
                    f"{result.expired:,} older than the history kept, "
                    f"{result.charged:,} charged ({result.charged_total} {org.currency}), {result.refused:,} refused."
                )
            )
            if result.ignored_columns:
                self.stdout.write(f"  columns not used: {', '.join(result.ignored_columns)}")
        if failed:
            raise CommandError("Some files were not imported (see above).")
