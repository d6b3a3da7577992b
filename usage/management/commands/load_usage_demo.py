"""Demo usage: destinations, two rate cards (a price change within the last 90 days), Contoso's
people (on Domestic and on Domestic and International Calling Plans), and a few months of realistic
calls and SMS: international calls, conference dial-outs to Zone A and beyond, toll-free numbers.

Deterministic: every day is generated from its own fixed seed, and every record's UsageId is
derived from the day and its number, so the same day always gives the same rows. Safe to run twice:
rates and people are found or created by key, and a day already imported is skipped (importing it
again would change nothing anyway). Runs through the same import service as real data, so the
records are rated and charged to the demo balance like any other.
"""

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand

from billing.models import Organization
from usage.models import CallRecord, Person, Rate, ReportSubscription, SmsRecord, SpendPolicy
from usage.services.destinations import load_destinations
from usage.services.guard import save_policy
from usage.services.ingest import import_graph_payload
from usage.services.rate_cards import COLUMNS, apply_rate_card, read_and_preview, stage_rate_card
from usage.services.report_delivery import save_subscription

# The demo's spend guard caps (USD): a person's normal day stays far below them.
DEMO_CAPS = {"call": "20.00", "person_day": "40.00", "organization_day": "400.00"}
SEED = 20240601
DAYS = 120
NAMESPACE = uuid.UUID("5b0f3a52-0c7e-4f37-9f0e-6a1f2d9c8e11")

RATES = [
    # kind, prefix, country, description, per unit, connection fee
    ("outbound", "1", "US", "United States and Canada", "0.013", "0"),
    ("outbound", "1800", "US", "US toll-free", "0", "0"),
    ("outbound", "44", "GB", "United Kingdom", "0.024", "0"),
    ("outbound", "4420", "GB", "United Kingdom - London", "0.020", "0"),
    ("outbound", "447", "GB", "United Kingdom - mobile", "0.035", "0"),
    ("outbound", "49", "DE", "Germany", "0.030", "0"),
    ("outbound", "33", "FR", "France", "0.028", "0"),
    ("outbound", "91", "IN", "India", "0.090", "0.05"),
    ("outbound", "52", "MX", "Mexico", "0.045", "0"),
    ("outbound", "81", "JP", "Japan", "0.060", "0"),
    ("outbound", "61", "AU", "Australia", "0.040", "0"),
    ("toll_free_inbound", "", "US", "US toll-free numbers", "0.0195", "0"),
    ("toll_free_inbound", "", "CA", "Canada toll-free numbers", "0.0195", "0"),
    ("toll_free_inbound", "", "GB", "UK freephone numbers", "0.030", "0.01"),
    ("sms", "", "US", "SMS to the United States", "0.0075", "0"),
    ("sms", "", "CA", "SMS to Canada", "0.0075", "0"),
    ("sms", "", "PR", "SMS to Puerto Rico", "0.0075", "0"),
    ("sms", "", "GB", "SMS to the United Kingdom", "0.040", "0"),
]
RATES_FROM = date(2023, 1, 1)
# The second card starts 1 + CHANGE_DAYS_AGO days before today (45 days ago): India and UK mobiles change price (UK mobiles
# per second), number types are set, and destinations beyond Zone A and the plan's countries are added.
CHANGE_DAYS_AGO = 44
CHANGES = {
    "91": ("0.085", "0.05", "", 60, 60),
    "447": ("0.038", "0", "mobile", 1, 1),
    "1800": ("0", "0", "toll_free", 60, 60),
}
ADDED = [
    # prefix, country, number type, description, per minute, connection fee, minimum, increment
    ("971", "AE", "landline", "United Arab Emirates", "0.110", "0.02", 60, 60),
    ("675", "PG", "landline", "Papua New Guinea", "0.550", "0", 60, 60),
    ("449", "GB", "premium", "United Kingdom premium-rate", "1.200", "0", 60, 60),
    ("1900", "US", "premium", "US premium-rate", "0.990", "0", 60, 60),
]
SUPPORT_PERMISSIONS = [
    "view_rate", "add_rate", "change_rate", "view_person", "add_person", "change_person", "view_apitoken", "add_apitoken",
    "change_apitoken", "view_callrecord", "view_smsrecord", "view_importbatch", "view_poolusage", "view_dailyusage", "view_export",
    "view_ratecard", "view_incident", "view_destination", "add_destination", "change_destination", "view_destinationprefix",
    "add_destinationprefix", "change_destinationprefix", "delete_destinationprefix", "view_countrylist", "change_countrylist",
    "view_spendpolicy", "view_destinationrule", "view_creditblock", "change_creditblock", "view_guardchange",
    "view_reportsubscription", "view_reportrun",
]

FIRST = ["Avery", "Blake", "Casey", "Dana", "Emery", "Finley", "Gray", "Harper", "Indy", "Jordan", "Kai", "Logan", "Morgan",
         "Noel", "Oakley", "Parker", "Quinn", "Riley", "Sage", "Taylor", "Umi", "Val", "Wren", "Yael", "Zion"]
LAST = ["Adams", "Brooks", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Haddad", "Ito", "Jones", "Khan", "Lopez", "Miller",
        "Novak", "Okafor", "Patel", "Quist", "Rossi", "Smith", "Tanaka", "Ueda", "Varga", "Weber", "Xu", "Young"]
DEPARTMENTS = ["Sales", "Support", "Finance", "Engineering", "Operations"]
# Finance's cost centers: two departments share one, and Engineering's people are split between two.
COST_CENTERS = {"Sales": "CC-4100", "Support": "CC-4200", "Finance": "CC-1000", "Operations": "CC-1000", "Reception": "CC-4200"}
ENGINEERING_CENTERS = ["CC-3100", "CC-3200"]

ABROAD = [
    # country, name, number pattern (x: random digit), share
    ("GB", "United Kingdom", "+44 20 7946 0xxx", 4),
    ("GB", "United Kingdom", "+44 7700 900xxx", 2),
    ("DE", "Germany", "+49 30 901820xx", 3),
    ("FR", "France", "+33 1 40 20 xx xx", 2),
    ("IN", "India", "+91 98765 4xxxx", 2),
    ("MX", "Mexico", "+52 55 5xxx xxxx", 1),
    ("JP", "Japan", "+81 3 xxxx xxxx", 1),
    ("PG", "Papua New Guinea", "+675 7xxx xxxx", 1),  # not a country of the Domestic and International plan
    ("GB", "United Kingdom", "+44 909 879 0xxx", 1),  # premium-rate: never from a pool
]
COUNTRY_NAMES = {"US": "United States", "GB": "United Kingdom", "CA": "Canada", "DE": "Germany", "IN": "India"}


@dataclass
class DemoPerson:
    upn: str
    name: str
    location: str
    phone: str
    licenses: str
    department: str = ""
    resource: bool = False


def people_of_contoso():
    people = []
    for i in range(25):
        location = "GB" if i in (5, 12, 19) else ("CA" if i in (8, 21) else "US")
        first, last = FIRST[i], LAST[(i * 7) % len(LAST)]
        prefix = {"US": "+1 425 555 01", "GB": "+44 20 7946 01", "CA": "+1 416 555 01"}[location]
        # Three users were never given the Communications Credits license: their paid calls are refused.
        # Five hold the Domestic and International Calling Plan, the others the Domestic one.
        plan = "MCOPSTN2" if i in (1, 6, 11, 17, 23) else "MCOPSTN1"
        licenses = f"{plan} MCOMEETADD MCOEV" + ("" if i in (3, 14, 22) else " MCOPSTNPP")
        people.append(
            DemoPerson(f"{first.lower()}.{last.lower()}@contoso.example", f"{first} {last}", location, f"{prefix}{i:02d}",
                       licenses, DEPARTMENTS[i % len(DEPARTMENTS)])
        )
    people.append(DemoPerson("main-line@contoso.example", "Contoso main line (auto attendant)", "US", "+1 800 555 0100",
                             "MCOPSTNPP MCOEV", "Reception", True))
    people.append(DemoPerson("support-queue@contoso.example", "Contoso support (call queue)", "US", "+1 800 555 0199",
                             "MCOPSTNPP MCOEV", "Support", True))
    return people


def digits(rng, pattern):
    return "".join(str(rng.randrange(10)) if ch == "x" else ch for ch in pattern)


class Command(BaseCommand):
    help = "Create demo rates, Contoso's people and a few months of calls and SMS (deterministic, idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--days", type=int, default=getattr(settings, "USAGE_DEMO_DAYS", DAYS),
            help=f"How many days up to yesterday (default {DAYS}, or the USAGE_DEMO_DAYS setting).",
        )

    def handle(self, *args, days, **options):
        load_destinations()
        self.rates()
        self.support_permissions()
        org = Organization.objects.filter(slug="contoso").first()
        if org is None:
            self.stdout.write("No Contoso organization: run load_demo first. Rates are ready.")
            return
        people = self.people(org)
        self.spend_guard(org)
        end = datetime.now(UTC).date() - timedelta(days=1)
        created = charged = 0
        # A week per import, as a weekly feed would bring them: a handful of transactions, not hundreds.
        day_list = [end - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
        for week_start in range(0, len(day_list), 7):
            calls, messages = [], []
            for day in day_list[week_start : week_start + 7]:
                day_calls, day_messages = self.day_of(org, people, day)
                calls += day_calls
                messages += day_messages
            for kind, rows, model in (("pstn", calls, CallRecord), ("sms", messages, SmsRecord)):
                if not rows or model.objects.filter(organization=org, usage_id=rows[-1]["id"]).exists():
                    continue
                result = import_graph_payload(org, {"value": rows}, kind, origin="demo")
                created += result.created
                charged += result.charged
        self.scheduled_report(org)
        self.stdout.write(self.style.SUCCESS(f"Usage demo: {created:,} new records for {org.name} ({charged:,} charged to credits)."))

    def spend_guard(self, org):
        """Contoso's spend policy: caps well above its people's normal days, so that only a burst (toll
        fraud) reaches them; the default destination rules (premium-rate, high-risk prefixes) apply."""
        if not SpendPolicy.objects.filter(organization=org).exists():
            save_policy(
                org, actor=None, call_cap=DEMO_CAPS["call"], person_day_cap=DEMO_CAPS["person_day"],
                organization_day_cap=DEMO_CAPS["organization_day"], cap_action="stop",
            )

    def support_permissions(self):
        """Support staff (the demo's "Support" group) manage rates, people and API keys, and read the rest."""
        group = Group.objects.filter(name="Support").first()
        if group is None:
            return
        codes = SUPPORT_PERMISSIONS
        group.permissions.add(*Permission.objects.filter(content_type__app_label="usage", codename__in=codes))

    def scheduled_report(self, org):
        """Contoso's Global and Billing Administrators get "Where the credits go" every month."""
        admins = list(get_user_model().objects.filter(username__in=["global@contoso.example", "billing@contoso.example"]))
        if admins and not ReportSubscription.objects.filter(organization=org).exists():
            save_subscription(organization=org, actor=admins[0], report=ReportSubscription.Report.ALLOCATION,
                              frequency=ReportSubscription.Frequency.MONTHLY, recipients=admins)

    def rates(self):
        """Two rate cards through the import service: the table since 2023, then a price change."""
        first = [(p, c, "", d, u, f, 60, 60) for kind, p, c, d, u, f in RATES if kind == "outbound"]
        by_country = [(kind, c, d, u, f) for kind, p, c, d, u, f in RATES if kind != "outbound"]
        if not Rate.objects.filter(currency="USD").exists():
            self.card("first", first, by_country, RATES_FROM)
        changed = []
        for prefix, country, number_type, description, per_unit, fee, minimum, increment in first:
            if prefix in CHANGES:
                per_unit, fee, number_type, minimum, increment = CHANGES[prefix]
            changed.append((prefix, country, number_type, description, per_unit, fee, minimum, increment))
        day = datetime.now(UTC).date() - timedelta(days=1 + CHANGE_DAYS_AGO)
        self.card("change", changed + ADDED, by_country, day)

    def card(self, name, outbound, by_country, day):
        rows = [",".join(COLUMNS)]
        for prefix, country, number_type, description, per_unit, fee, minimum, increment in outbound:
            rows.append(f"outbound,{prefix},{country},{number_type},{description},USD,{per_unit},{fee},{minimum},{increment},{day}")
        for kind, country, description, per_unit, fee in by_country:
            number_type = "toll_free" if kind == "toll_free_inbound" else ""
            rows.append(f"{kind},,{country},{number_type},{description},USD,{per_unit},{fee},60,60,{day}")
        text = "\r\n".join(rows) + "\r\n"
        # The demo loads a history before its calls are rated: its cards may start on days that have begun.
        if not read_and_preview(text, allow_past=True).changes_anything:
            return  # loaded already: running the demo again changes nothing
        upload = ContentFile(text.encode(), name=f"demo-{name}.csv")
        card, _ = stage_rate_card(upload, filename=upload.name, allow_past=True)
        apply_rate_card(card.pk, allow_past=True)

    def people(self, org):
        people = people_of_contoso()
        for index, p in enumerate(people):
            center = ENGINEERING_CENTERS[index % 2] if p.department == "Engineering" else COST_CENTERS.get(p.department, "")
            # Demo data made before cost centers existed gets them too (set once: support may change them).
            Person.objects.filter(organization=org, upn=p.upn, cost_center="").update(cost_center=center)
            Person.objects.get_or_create(
                organization=org,
                upn=p.upn,
                defaults=dict(
                    display_name=p.name, usage_location=p.location, phone_number=p.phone, licenses=p.licenses,
                    department=p.department, cost_center=center, is_resource_account=p.resource,
                    object_id=str(uuid.uuid5(NAMESPACE, f"person:{p.upn}")),
                ),
            )
        return people

    def day_of(self, org, people, day):
        rng = random.Random(f"{SEED}:{org.slug}:{day.isoformat()}")
        users = [p for p in people if not p.resource]
        weekend = day.weekday() >= 5
        count = rng.randint(6, 14) if weekend else rng.randint(55, 85)
        calls = [self.call(rng, org, users, people, day, n) for n in range(count)]
        calls.sort(key=lambda r: r["startDateTime"])
        sms_count = rng.randint(0, 3) if weekend else rng.randint(6, 14)
        messages = [self.sms(rng, org, users, day, n) for n in range(sms_count)]
        messages.sort(key=lambda r: r["sentDateTime"])
        return calls, messages

    def moment(self, rng, day):
        hour = min(max(int(rng.gauss(13, 3)), 6), 21)
        return datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)), tzinfo=UTC)

    def call(self, rng, org, users, people, day, n):
        user = rng.choice(users)
        start = self.moment(rng, day)
        seconds = max(5, int(rng.expovariate(1 / 240)))
        roll = rng.random()
        domestic_prefix = {"US": "+1 206 555 xxxx", "CA": "+1 416 555 xxxx", "GB": "+44 20 7946 xxxx"}[user.location]
        row = dict(
            call_type="user_out", upn=user.upn, name=user.name, location=user.location, caller=user.phone,
            callee=digits(rng, domestic_prefix), context="Domestic", dest=COUNTRY_NAMES[user.location], inventory="Subscriber",
            conference="",
        )
        if roll < 0.30:
            caller = digits(rng, domestic_prefix)
            if rng.random() < 0.08:
                caller = caller[:-3] + "***"  # obscured by the caller's country
            elif rng.random() < 0.05:
                caller = "Fabrikam Front Desk"  # a name shown instead of a number
            row.update(call_type="user_in", caller=caller, callee=user.phone)
        elif roll < 0.34:
            country, name, pattern, _ = rng.choices(ABROAD, weights=[a[3] for a in ABROAD])[0]
            if country == user.location:
                country, name, pattern = "US", "United States", "+1 212 555 xxxx"
            row.update(callee=digits(rng, pattern), context="International", dest=name)
        elif roll < 0.39:
            organizer = rng.choice(users)
            where = rng.random()
            if where < 0.75:
                country, name, pattern = "US", "United States", "+1 312 555 xxxx"
            elif where < 0.87:
                country, name, pattern = "IN", "India", "+91 98765 4xxxx"  # Zone A too
            else:
                country, name, pattern = "AE", "United Arab Emirates", "+971 4 xxx xxxx"  # beyond Zone A
            row.update(call_type="conf_out", upn=organizer.upn, name=organizer.name, location=organizer.location,
                       caller="+1 425 555 0150", callee=digits(rng, pattern), conference=str(uuid.UUID(int=rng.getrandbits(128))),
                       context="Domestic" if country == organizer.location else "International", dest=name)
        elif roll < 0.44:
            organizer = rng.choice(users)
            row.update(call_type="conf_in", upn=organizer.upn, name=organizer.name, location=organizer.location,
                       caller=digits(rng, "+1 503 555 xxxx"), callee="+1 425 555 0150",
                       conference=str(uuid.UUID(int=rng.getrandbits(128))))
        elif roll < 0.52:
            line = rng.choice([p for p in people if p.resource])
            row.update(call_type="ucap_in", upn=line.upn, name=line.name, location="US", caller=digits(rng, "+1 617 555 xxxx"),
                       callee=line.phone, inventory="Toll-free", dest="United States")
            seconds = max(20, int(rng.expovariate(1 / 200)))
        elif roll < 0.54:
            row.update(call_type=rng.choice(["user_out_transfer", "user_out_forwarding"]))
        elif roll < 0.55:
            row.update(call_type="unassigned_in", upn="", name="", caller=digits(rng, "+1 702 555 xxxx"), callee="+1 425 555 0177")
        elif roll < 0.5502:
            row.update(call_type="emergency_out", callee="911")
        end = start + timedelta(seconds=seconds)
        return {
            "id": str(uuid.uuid5(NAMESPACE, f"call:{org.slug}:{day.isoformat()}:{n}")),
            "callId": str(uuid.uuid5(NAMESPACE, f"callid:{org.slug}:{day.isoformat()}:{n // 2 if row['call_type'] == 'user_out_transfer' else n}")),
            "userId": str(uuid.uuid5(NAMESPACE, f"person:{row['upn']}")) if row["upn"] else "",
            "userPrincipalName": row["upn"],
            "userDisplayName": row["name"],
            "startDateTime": start.strftime("%Y-%m-%dT%H:%M:%S.0000000Z"),
            "endDateTime": end.strftime("%Y-%m-%dT%H:%M:%S.0000000Z"),
            "duration": seconds,
            "charge": 0,
            "connectionCharge": 0,
            "callType": row["call_type"],
            "currency": "USD",
            "calleeNumber": row["callee"],
            "callerNumber": row["caller"],
            "usageCountryCode": row["location"],
            "tenantCountryCode": "US",
            "destinationContext": row["context"],
            "destinationName": row["dest"],
            "conferenceId": row["conference"],
            "licenseCapability": "",
            "inventoryType": row["inventory"],
            "operator": "Microsoft",
            "callDurationSource": "microsoft",
        }

    def sms(self, rng, org, users, day, n):
        user = rng.choice([u for u in users if u.location in ("US", "CA")])
        outbound = rng.random() < 0.7
        abroad = outbound and rng.random() < 0.1
        other = "GB" if abroad else user.location
        number = digits(rng, "+44 7700 900xxx" if abroad else "+1 206 555 xxxx")
        return {
            "id": str(uuid.uuid5(NAMESPACE, f"sms:{org.slug}:{day.isoformat()}:{n}")),
            "smsId": str(uuid.uuid5(NAMESPACE, f"smsid:{org.slug}:{day.isoformat()}:{n}")),
            "sentDateTime": self.moment(rng, day).strftime("%Y-%m-%dT%H:%M:%S.0000000Z"),
            "smsType": "outbound" if outbound else "inbound",
            "smsUnits": rng.choice([1, 1, 1, 2]),
            "callCharge": 0,
            "currency": "USD",
            "destinationContext": "International" if abroad else "Domestic",
            "destinationName": COUNTRY_NAMES.get(other, other),
            "destinationNumber": number if outbound else user.phone,
            "sourceNumber": user.phone if outbound else number,
            "licenseCapability": "",
            "userId": str(uuid.uuid5(NAMESPACE, f"person:{user.upn}")),
            "userPrincipalName": user.upn,
            "userDisplayName": user.name,
            "userCountryCode": user.location,
            "tenantCountryCode": "US",
            "otherPartyCountryCode": other,
        }
