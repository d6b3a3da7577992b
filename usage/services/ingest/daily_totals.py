"""The per-day totals an import adds to (DailyUsage), which the report's chart and totals read."""

from collections import defaultdict

from django.db import connection

from billing.money import ZERO

from ...models import DailyUsage


class DailyTotals:
    def __init__(self, kind_code):
        self.kind_code = kind_code
        self.rows = defaultdict(lambda: [0, 0, 0, 0, ZERO])

    def save(self, organization):
        table = DailyUsage._meta.db_table
        sql = (
            f"INSERT INTO {table} (organization_id, kind, day, call_type, destination_context, rating, records, seconds, "
            "units, charged_units, charge) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (organization_id, kind, day, call_type, destination_context, rating) DO UPDATE SET "
            f"records = {table}.records + excluded.records, seconds = {table}.seconds + excluded.seconds, "
            f"units = {table}.units + excluded.units, charged_units = {table}.charged_units + excluded.charged_units, "
            f"charge = {table}.charge + excluded.charge"
        )
        params = [
            (organization.pk, self.kind_code, day, call_type, context, rating, *values)
            for (day, call_type, context, rating), values in sorted(self.rows.items())
        ]
        if params:
            with connection.cursor() as cursor:
                cursor.executemany(sql, params)
