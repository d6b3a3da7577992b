"""Spend demo credits so that auto-recharge can be seen at work: `manage.py spend_demo_credits`.

By default it takes Contoso's balance just below its trigger; the recharge follows on commit (or at the
next sweep, within AUTO_RECHARGE_SWEEP_SECONDS, if the message was lost).
"""

from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError

from billing.models import CreditAccount
from billing.money import format_money
from billing.services.demo import spend_demo_credits


class Command(BaseCommand):
    help = "Spend demo credits: take an organization's balance below its auto-recharge trigger."

    def add_arguments(self, parser):
        parser.add_argument("--organization", default="contoso", help="Organization slug (default: contoso).")
        parser.add_argument("--amount", type=Decimal, help="Spend this much instead of just enough to cross the trigger.")

    def handle(self, *args, organization, amount, **options):
        account = (
            CreditAccount.objects.filter(organization__slug=organization)
            .select_related("organization", "auto_recharge_policy")
            .first()
        )
        if account is None:
            raise CommandError(f"No credits account for organization {organization!r}; run load_demo first.")
        entry = spend_demo_credits(account.pk, amount)
        policy = account.auto_recharge_policy
        self.stdout.write(
            f"{account.organization}: spent {format_money(-entry.amount, account.currency)}; the balance fell to "
            f"{format_money(entry.balance_after, account.currency)}."
        )
        if policy.enabled and policy.trigger is not None and entry.balance_after < policy.trigger:
            trigger = format_money(policy.trigger, account.currency)
            self.stdout.write(
                self.style.SUCCESS(
                    f"Below the {trigger} trigger: an auto-recharge of {format_money(policy.amount, account.currency)} "
                    "follows within a minute (watch var/celery.log and the credits page)."
                )
            )
        else:
            self.stdout.write("Not below an active auto-recharge trigger: nothing will be recharged.")
