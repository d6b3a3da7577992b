"""Which tables hold a tenant's rows, and whether one SQL statement names the tenant it touches.

Citus routes a statement to one shard only when it carries the distribution column's value
(organization_id = 7, or IN a list of values). This module reads the SQL that Django sent (with its
parameters, as CaptureQueriesContext records it) and says, for each statement that touches a tenant
table, whether it carries such a condition. docs/scaling.md explains the tables and what remains.
"""

import re
from dataclasses import dataclass

from django.apps import apps

# Tables reached only through a tenant row: (app_label.Model, the column naming that row). A
# statement filtering on that column names one row of one tenant (one account, one event, ...);
# under Citus each of these tables gets an organization_id column of its own (docs/scaling.md).
CHILD_TABLES = {
    "billing.LedgerEntry": "account_id",
    "billing.CreditLot": "account_id",
    "billing.ReconciliationMismatch": "account_id",
    "billing.Payment": "account_id",
    "billing.Receipt": "account_id",
    "billing.AutoRechargePolicy": "account_id",
    "billing.AutoRechargeState": "account_id",
    "billing.AutoRechargeChange": "account_id",
    "billing.MembershipRole": "membership_id",
    "notifications.Delivery": "event_id",
    "notifications.DeliveryFailure": "delivery_id",
    "usage.ReportRun": "subscription_id",
}

# Tables of no tenant: the same for every organization (reference tables under Citus), or the site's
# own (users, sessions, sign-in attempts, Django's bookkeeping). Each model of the project is in one
# of the three lists, or the test fails (a new model must be classified).
REFERENCE_MODELS = {
    "billing.Product": "the catalog: the same products for every organization",
    "billing.SandboxCharge": "the sandbox gateway's own record, standing in for the payment provider",
    "usage.Rate": "the rate book",
    "usage.RateCard": "an uploaded rate card (applies to every organization)",
    "usage.Destination": "the destinations (countries) rating knows",
    "usage.DestinationPrefix": "their dialling prefixes",
    "usage.CountryList": "the country lists the spend guard's default rules use",
}
GLOBAL_APPS = {"auth", "contenttypes", "sessions", "admin", "axes"}


def tenant_models():
    """(model, its scoping column) for every table holding a tenant's rows."""
    found = []
    for model in apps.get_models():
        label = model._meta.label
        if model._meta.label == "billing.Organization":
            found.append((model, "id"))
        elif "organization" in {f.name for f in model._meta.concrete_fields}:
            found.append((model, "organization_id"))
        elif label in CHILD_TABLES:
            found.append((model, CHILD_TABLES[label]))
    return found


def unclassified_models():
    """Models that are neither tenant, child, reference nor Django's own: each needs a decision."""
    tenant = {model._meta.label for model, _column in tenant_models()}
    return sorted(
        model._meta.label
        for model in apps.get_models()
        if model._meta.label not in tenant
        and model._meta.label not in REFERENCE_MODELS
        and model._meta.app_label not in GLOBAL_APPS
    )


def tenant_tables():
    """{table name: scoping column}."""
    return {model._meta.db_table: column for model, column in tenant_models()}


_TABLE = re.compile(r'\b(?:FROM|JOIN|INTO|UPDATE)\s+"(\w+)"', re.IGNORECASE)
# A value, not a column: a number, a quoted string, or a placeholder left in the text.
_VALUE = r"(?:-?\d+|'[^']*'|%s|\?)"


def _condition(column):
    """`column = value` or `column IN (value, ...)`, with or without its table's name in front."""
    name = rf'(?:"\w+"\.)?"{column}"'
    return re.compile(rf"{name}\s*(?:=\s*{_VALUE}|IN\s*\(\s*{_VALUE})", re.IGNORECASE)


# `id = 5`, `entry_id IN (5)`: one row, or the rows of one parent row, named by id alone.
_ROW_ID = re.compile(rf'(?:"\w+"\.)?"(?:id|\w+_id)"\s*(?:=\s*{_VALUE}|IN\s*\(\s*{_VALUE})', re.IGNORECASE)


def _insert_columns(sql):
    match = re.match(r'\s*INSERT\s+INTO\s+"\w+"\s*\(([^)]*)\)', sql, re.IGNORECASE)
    return set(re.findall(r'"(\w+)"', match[1])) if match else set()


@dataclass(frozen=True)
class Verdict:
    sql: str
    tables: tuple  # the tenant tables it touches
    scoped: bool
    by_row_id: bool  # unscoped, but names one row (or one row's children) by id: Django's save(), delete(), get(pk=)


def judge(sql, tables=None):
    """Whether `sql` names its tenant: None when it touches no tenant table."""
    tables = tenant_tables() if tables is None else tables
    sql = re.sub(r"^\d+ times: ", "", sql)  # an executemany, as the test runner records it
    touched = tuple(sorted({name for name in _TABLE.findall(sql) if name in tables}))
    if not touched:
        return None
    columns = {tables[name] for name in touched} | {"organization_id"}
    conditions = [_condition(column) for column in columns if column != "id"]
    if "billing_organization" in touched:
        conditions.append(_condition("id") if touched == ("billing_organization",) else re.compile(
            rf'"billing_organization"\."id"\s*(?:=\s*{_VALUE}|IN\s*\(\s*{_VALUE})', re.IGNORECASE))
    where = sql.upper().find(" WHERE ")
    # An UPDATE's SET clause assigns, it does not filter: its conditions are searched from WHERE on.
    start = max(where, 0) if sql.lstrip().upper().startswith("UPDATE") else 0
    scoped = any(condition.search(sql, start) for condition in conditions) or bool(_insert_columns(sql) & columns)
    by_key = not scoped and where >= 0 and bool(_ROW_ID.search(sql, where))
    return Verdict(sql=sql, tables=touched, scoped=scoped, by_row_id=by_key)
