"""What an import adds for cost allocation, in its transaction: charged spend per (day, person,
destination country, call type) into SpendTotal, which the report "Where the credits go" reads, and
each person's department from the export's Administrative Units column.

Departments (see docs/usage.md, "Cost allocation"):
- a record lists its administrative units separated by semicolons; the person's department is the
  first one listed (the column keeps them all, on the record);
- the unit of the person's latest call wins, across imports (`Person.department_seen_at`), so
  importing an older file does not move a person back to an old department;
- a department set by support (`Person.department_locked`) is never overwritten by an import;
- a record with no unit leaves the department as it is.
"""

from collections import defaultdict

from django.db import connection

from billing.money import ZERO

from ...choices import is_inbound
from ...models import Person, SpendTotal
from ..arrays import columns_of

DEPARTMENT_LENGTH = Person._meta.get_field("department").max_length
BATCH = 50_000  # rows per upsert statement on PostgreSQL
# Totals kept in memory at most: past it they are added to the stored ones and the import starts again
# from nothing (the upsert adds), so a year of a large directory does not grow the import's memory.
ROWS_KEPT = 50_000


def first_unit(units: str) -> str:
    """The first administrative unit of the column's value ("Sales; EMEA" -> "Sales")."""
    for part in units.split(";"):
        part = part.strip()
        if part:
            return part[:DEPARTMENT_LENGTH]
    return ""


class AllocationTotals:
    def __init__(self, kind_code, time_field):
        self.kind_code = kind_code
        self.time_field = time_field
        self.is_call = kind_code == "pstn"
        self.rows = defaultdict(lambda: [0, 0, ZERO])
        self.units = {}  # person id -> (time of their latest call here, its first unit)

    def add(self, records):
        """Called with the records of a chunk once they are rated (new records only: duplicates are
        skipped before rating, so nothing is counted twice)."""
        rows, time_field, is_call = self.rows, self.time_field, self.is_call
        units = self.units
        for record in records:
            charge = record["charge"]
            if is_call:
                seen = record.get("administrative_units")
                if seen and record.get("person_id"):
                    moment = record[time_field]
                    known = units.get(record["person_id"])
                    if known is None or moment > known[0]:
                        unit = first_unit(seen)
                        if unit:
                            units[record["person_id"]] = (moment, unit)
            if not charge:
                continue
            if is_call:
                call_type = record["call_type"]
                country = record.get("user_location", "") if is_inbound(call_type) else record.get("external_country", "")
                amount = record["duration_seconds"]
            else:
                call_type = record["sms_type"].lower()
                country = record.get("other_party_country", "")
                amount = record["segments"]
            slot = rows[(record[time_field].date(), record.get("person_id") or 0, country or "", call_type)]
            slot[0] += 1
            slot[1] += amount
            slot[2] += charge

    def save(self, organization):
        self._save_spend(organization)
        self._save_departments(organization)

    def trim(self, organization):
        """After each chunk: past ROWS_KEPT, the totals so far are written (see there)."""
        if len(self.rows) > ROWS_KEPT:
            self._save_spend(organization)
            self.rows.clear()

    def _save_spend(self, organization):
        """Add the import's totals to the stored ones: day rows, the same per month, and per person and month."""
        table = SpendTotal._meta.db_table
        months, people = defaultdict(lambda: [0, 0, ZERO]), defaultdict(lambda: [0, 0, ZERO])
        for (day, person, country, call_type), (records, seconds, charge) in self.rows.items():
            month = day.replace(day=1)
            for slot in (months[(month, person, country, call_type)], people[(month, person, "", "")]):
                slot[0] += records
                slot[1] += seconds
                slot[2] += charge
        params = [
            (organization.pk, period, day, self.kind_code, person, country, call_type, *values)
            for period, rows in ((SpendTotal.DAY, self.rows), (SpendTotal.MONTH, months), (SpendTotal.PERSON_MONTH, people))
            for (day, person, country, call_type), values in rows.items()
        ]  # unsorted: imports of one organization take turns (RatingState), so no two upserts cross
        if not params:
            return
        update = (
            "ON CONFLICT (organization_id, period, day, kind, person_key, country, call_type) DO UPDATE SET "
            f"records = {table}.records + excluded.records, seconds = {table}.seconds + excluded.seconds, "
            f"charge = {table}.charge + excluded.charge"
        )
        columns = "organization_id, period, day, kind, person_key, country, call_type, records, seconds, charge"
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # One statement per BATCH rows, its values as ten arrays (usage.services.arrays): a statement per row,
                # or a VALUES list of a hundred thousand placeholders, costs a million-row import many seconds more.
                types = ("bigint", "varchar", "date", "varchar", "bigint", "varchar", "varchar", "bigint", "bigint", "numeric")
                arrays = ", ".join(f"%s::{t}[]" for t in types)
                for first in range(0, len(params), BATCH):
                    batch = params[first : first + BATCH]
                    cursor.execute(f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays}) {update}", columns_of(batch, {1, 3, 5, 6}))
            else:
                values = ", ".join(["%s"] * 10)
                cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({values}) {update}", params)

    def _save_departments(self, organization):
        if not self.units:
            return
        if connection.vendor == "postgresql":
            # One statement for all the people of the import (Django's bulk_update took 17 s for 5,000);
            # the same rules as below: not locked, and only from a later call than the one seen last.
            table = Person._meta.db_table
            rows = [(pk, unit, moment.isoformat()) for pk, (moment, unit) in self.units.items()]
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {table} AS p SET department = t.unit, department_seen_at = t.seen "
                    "FROM unnest(%s::bigint[], %s::text[], %s::timestamptz[]) AS t(id, unit, seen) "
                    "WHERE p.id = t.id AND p.organization_id = %s AND NOT p.department_locked "
                    "AND (p.department_seen_at IS NULL OR p.department_seen_at < t.seen)",
                    [*columns_of(rows, {1, 2}), organization.pk],
                )
            return
        people = Person.objects.filter(organization=organization, pk__in=list(self.units), department_locked=False)
        changed = []
        for person in people.only("pk", "department", "department_seen_at"):
            moment, unit = self.units[person.pk]
            if person.department_seen_at is not None and person.department_seen_at >= moment:
                continue
            person.department, person.department_seen_at = unit, moment
            changed.append(person)
        if changed:
            Person.objects.bulk_update(changed, ["department", "department_seen_at"], batch_size=500)
