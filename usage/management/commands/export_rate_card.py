"""Export the rate table of a currency as a rate card CSV (the format import_rate_card reads)."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from usage.selectors import card_rates
from usage.services.rate_cards import write_card


class Command(BaseCommand):
    help = "Write the rate lines of a currency as a rate card CSV: the latest line of each prefix and country, or those of --on DATE."

    def add_arguments(self, parser):
        parser.add_argument("--currency", default="USD")
        parser.add_argument("--on", help="YYYY-MM-DD: the lines in effect on that day.")
        parser.add_argument("--output", "-o", help="A file to write; standard output without it.")

    def handle(self, *args, currency, on, output, **options):
        try:
            day = date.fromisoformat(on) if on else None
        except ValueError:
            raise CommandError(f"--on {on} is not a date (YYYY-MM-DD).") from None
        rates = card_rates(currency.upper(), day)
        if output:
            with open(output, "w", encoding="utf-8", newline="") as f:
                write_card(rates, f)
            self.stderr.write(f"{rates.count()} line(s) written to {output}.")
        else:
            write_card(rates, self.stdout)
