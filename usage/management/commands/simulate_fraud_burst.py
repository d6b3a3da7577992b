"""Import a simulated toll-fraud burst (hundreds of short calls to premium-rate numbers overnight by one
person) into an organization, through the normal import service: detection raises the alert, the mail
goes to the admins in the billing roles, and the Message center shows it."""

from django.core.management.base import BaseCommand, CommandError

from billing.models import Organization
from usage.services.fraud_simulation import PREMIUM_NUMBER, NoOneToSimulate, simulate_fraud_burst


class Command(BaseCommand):
    help = "Import a simulated toll-fraud burst for an organization (for demos): detection alerts on it."

    def add_arguments(self, parser):
        parser.add_argument("--organization", required=True, help="The organization's slug, e.g. contoso.")
        parser.add_argument("--user", default="", help="UPN of the 'hijacked' person (default: the first with MCOPSTNPP).")
        parser.add_argument("--calls", type=int, default=300, help="How many calls (default 300).")
        parser.add_argument(
            "--number", default=PREMIUM_NUMBER,
            help=f"The start of the numbers dialled (default {PREMIUM_NUMBER!r}, UK premium-rate, which the spend guard's "
            "default rule refuses; e.g. '+675 7' for Papua New Guinea, which only a cap stops).",
        )

    def handle(self, *args, organization, user, calls, number, **options):
        org = Organization.objects.filter(slug=organization).first()
        if org is None:
            raise CommandError(f"No organization with the slug {organization!r}.")
        if calls < 1 or calls > 10_000:
            raise CommandError("--calls must be between 1 and 10000.")
        try:
            result = simulate_fraud_burst(org, upn=user, calls=calls, number=number)
        except NoOneToSimulate as exc:
            raise CommandError(str(exc)) from None
        incidents = org.usage_incidents.filter(last_batch_id=result.batch.pk)
        self.stdout.write(
            f"Imported {result.created} simulated calls for {org.name} ({result.charged} charged, {result.refused} refused, "
            f"{result.charged_total} {org.currency})."
        )
        for incident in incidents:
            self.stdout.write(f"Incident {incident.pk}: {incident} — /billing/products/communications-credits/spend-guard/incidents/{incident.pk}/")
        if not incidents:
            self.stdout.write("No incident was opened or added to (is detection enabled, and does the organization have a week of history?).")
