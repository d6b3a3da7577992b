from django.core.management.base import BaseCommand, CommandError

from billing.models import Organization
from usage.api import create_token


class Command(BaseCommand):
    help = "Create an API key for the usage JSON endpoints of one organization; the key is printed once."

    def add_arguments(self, parser):
        parser.add_argument("organization", help="The organization's slug.")
        parser.add_argument("name", help="What the key is for, e.g. 'Graph forwarder'.")

    def handle(self, *args, organization, name, **options):
        try:
            org = Organization.objects.get(slug=organization)
        except Organization.DoesNotExist:
            raise CommandError(f"No organization with the slug {organization!r}.") from None
        token, key = create_token(organization=org, name=name)
        self.stdout.write(f"Key for {org.name} ({token.name}): {key}")
        self.stdout.write("It is not stored and is shown only this once. Send it as: Authorization: Bearer <key>")
