from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from billing.models import Organization
from usage.services.api_keys import create_api_key


class Command(BaseCommand):
    help = "Create an API key for the usage JSON endpoints of one organization; the key is printed once."

    def add_arguments(self, parser):
        parser.add_argument("organization", help="The organization's slug.")
        parser.add_argument("name", help="What the key is for, e.g. 'Graph forwarder' (up to 100 characters).")

    def handle(self, *args, organization, name, **options):
        try:
            org = Organization.objects.get(slug=organization)
        except Organization.DoesNotExist:
            raise CommandError(f"No organization with the slug {organization!r}.") from None
        try:
            token, key = create_api_key(organization=org, name=name)
        except ValidationError as invalid:
            raise CommandError(" ".join(invalid.messages)) from None
        self.stdout.write(f"Key for {org.name} ({token.name}): {key}")
        self.stdout.write("It is not stored and is shown only this once. Send it as: Authorization: Bearer <key>")
