"""Spend demo credits so that auto-recharge can be seen at work: `manage.py spend_demo_credits`.

By default it takes Contoso's balance just below its trigger; the recharge follows on commit (or at the
next sweep, within AUTO_RECHARGE_SWEEP_SECONDS, if the message was lost).
"""

from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError

from billing import recharge
from billing.models import CreditAccount
from billing.money import format_money


class Command(BaseCommand):
    help = "Spend demo credits: take an organization's balance below its auto-recharge trigger."

    def add_arguments(self, parser):
        parser.add_argument("--organization", default="contoso", help="Organization slug (default: contoso).")
        parser.add_argument("--amount", type=Decimal, help="Spend this much instead of just enough to cross the trigger.")

    def handle(self, *args, organization, amount, **options):
        account = CreditAccount.objects.filter(organization__slug=organization).select_related("organization").first()
        if account is None:
            raise CommandError(f"No credits account for organization {organization!r}; run load_demo first.")
        entry = recharge.spend_for_demo(account.pk, amount)
        account.refresh_from_db()
        self.stdout.write(
            f"{account.organization}: spent {format_money(-entry.amount, account.currency)}; the balance fell to "
            f"{format_money(entry.balance_after, account.currency)}."
        )
        if account.auto_recharge_enabled and account.recharge_trigger is not None and entry.balance_after < account.recharge_trigger:
            trigger = format_money(account.recharge_trigger, account.currency)
            self.stdout.write(
                self.style.SUCCESS(
                    f"Below the {trigger} trigger: an auto-recharge of {format_money(account.recharge_amount, account.currency)} "
                    "follows within a minute (watch var/celery.log and the credits page)."
                )
            )
        else:
            self.stdout.write("Not below an active auto-recharge trigger: nothing will be recharged.")
