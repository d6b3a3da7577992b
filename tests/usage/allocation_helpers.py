"""Shared by the cost allocation tests: calls imported from the export's CSV (which carries the
Administrative Units column), dated relative to today so that the report's range accepts them."""

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db.models import Sum

from billing.choices import EntryKind
from billing.models import LedgerEntry
from tests.usage.factories import csv_bytes, export_row
from usage.services.ingest import import_file


def days_ago(days, hour=10, minute=0):
    now = datetime.now(UTC)
    return (now - timedelta(days=days)).replace(hour=hour, minute=minute, second=0, microsecond=0)


def call(upn="hank@contoso.test", *, start=None, seconds=60, callee="+442079460000", country="GB", units="", call_type="user_out", **extra):
    """A call of the export; hank has no calling plan, so his outbound calls are charged to credits."""
    return export_row(
        UPN=upn,
        start=start or days_ago(1),
        seconds=seconds,
        **{"Destination Number": callee, "External Country": country, "Administrative Units": units, "Call Type": call_type,
           "Domestic/International": "Domestic" if country == "US" else "International", **extra},
    )


def import_calls(org, rows, name="PSTN.calls.csv"):
    return import_file(org, io.BytesIO(csv_bytes(rows)), name, "pstn")


def ledger_usage_total(org) -> Decimal:
    total = LedgerEntry.objects.filter(account__organization=org, kind=EntryKind.USAGE_CHARGE).aggregate(t=Sum("amount"))["t"]
    return abs(total or Decimal("0"))
