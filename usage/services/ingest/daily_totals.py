"""The per-day totals an import adds to (DailyUsage), which the report's chart and totals read."""

from collections import defaultdict

from django.db import connection

from billing.money import ZERO

from ...models import DailyUsage
from ..arrays import columns_of


class DailyTotals:
    def __init__(self, kind_code):
        self.kind_code = kind_code
        self.rows = defaultdict(lambda: [0, 0, 0, 0, ZERO])

    def save(self, organization):
        table = DailyUsage._meta.db_table
        update = (
            "ON CONFLICT (organization_id, kind, day, call_type, destination_context, rating) DO UPDATE SET "
            f"records = {table}.records + excluded.records, seconds = {table}.seconds + excluded.seconds, "
            f"units = {table}.units + excluded.units, charged_units = {table}.charged_units + excluded.charged_units, "
            f"charge = {table}.charge + excluded.charge"
        )
        columns = "organization_id, kind, day, call_type, destination_context, rating, records, seconds, units, charged_units, charge"
        params = [
            (organization.pk, self.kind_code, day, call_type, context, rating, *values)
            for (day, call_type, context, rating), values in sorted(self.rows.items())
        ]
        if not params:
            return
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # A year is thousands of rows: one statement, its columns as arrays (usage.services.arrays).
                types = ("bigint", "varchar", "date", "varchar", "varchar", "varchar", "bigint", "bigint", "bigint", "bigint", "numeric")
                arrays = ", ".join(f"%s::{t}[]" for t in types)
                cursor.execute(f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays}) {update}", columns_of(params, {1, 3, 4, 5}))
            else:
                values = ", ".join(["%s"] * 11)
                cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({values}) {update}", params)
