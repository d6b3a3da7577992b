"""Load destinations, their prefixes and the country lists from usage/data/."""

from django.core.management.base import BaseCommand

from usage.services.destinations import load_destinations


class Command(BaseCommand):
    help = (
        "Add the destinations, prefixes and country lists of usage/data/ that the database lacks; "
        "--overwrite makes the database equal to the files (replacing changes made in Django admin)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--overwrite", action="store_true", help="Replace what support staff changed with the files' data.")

    def handle(self, *args, overwrite, **options):
        self.stdout.write(self.style.SUCCESS(str(load_destinations(overwrite=overwrite))))
