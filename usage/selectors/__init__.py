"""Reads shared by the report, its exports and the recommendation. Every one is scoped to an organization.

- report: the records of a range, their per-day totals, and the report's state (range, filters,
  rows, totals) read from a query string, which the page and the exports share;
- advice: what the subscriptions cover, and how many credits to buy;
- downloads: the exports Downloads lists;
- api_keys: the organization's API keys;
- charge: why a record was charged (its rating, the rate line or pool, the ledger entry and its
  lots, traced by ledger_trace);
- rates: the lines of the rate table a card export writes (not scoped: the rate table is the site's).
- rate_lookup: what a call to a number costs the organization today and who pays for it (rated by
  the import's own rules on a throwaway copy of its pools), with phone_numbers (numbers read with
  libphonenumber) and rate_table (the rate lines in force today). Imported from their modules.

Keyset paging of the report's table is in usage.paging.
"""

from .advice import CoverageSummary, Recommendation, coverage_summary, recommendation
from .api_keys import organization_keys
from .charge import ChargeExplanation, explain_charge
from .downloads import exports_for, live_exports
from .rates import card_rates, rate_currencies
from .report import (
    TIME_FIELDS,
    DayPoint,
    ReportState,
    Summary,
    export_queryset,
    hidden_columns,
    parameters_for,
    records,
    summary,
    totals,
)

__all__ = [
    "card_rates",
    "rate_currencies",
    "TIME_FIELDS",
    "ChargeExplanation",
    "CoverageSummary",
    "DayPoint",
    "Recommendation",
    "ReportState",
    "Summary",
    "coverage_summary",
    "explain_charge",
    "export_queryset",
    "exports_for",
    "hidden_columns",
    "live_exports",
    "organization_keys",
    "parameters_for",
    "recommendation",
    "records",
    "summary",
    "totals",
]
