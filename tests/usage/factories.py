"""Factories and small builders for usage tests: people, rates, and rows as the sources give them."""

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import factory

from billing import services
from billing.choices import EntryKind
from billing.selectors import credit_account
from tests.factories import OrganizationFactory
from usage.models import Person, Rate


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    organization = factory.SubFactory(OrganizationFactory)
    upn = factory.Sequence(lambda n: f"user{n}@contoso.test")
    display_name = factory.Sequence(lambda n: f"User {n}")
    usage_location = "US"
    licenses = "MCOPSTN1 MCOPSTNPP"
    phone_number = factory.Sequence(lambda n: f"+1425555{n:04d}")


class RateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Rate

    kind = "outbound"
    prefix = "1"
    country = "US"
    currency = "USD"
    per_unit = Decimal("0.013")
    connection_fee = Decimal("0")
    effective_from = date(2020, 1, 1)


def standard_rates():
    """A small rate table covering every kind of line, with one price change (+44 on 2024-07-01)."""
    lines = [
        dict(prefix="1", country="US", per_unit="0.013"),
        dict(prefix="44", country="GB", per_unit="0.024", effective_to=date(2024, 7, 1)),
        dict(prefix="44", country="GB", per_unit="0.026", effective_from=date(2024, 7, 1)),
        dict(prefix="4420", country="GB", per_unit="0.020"),
        dict(prefix="49", country="DE", per_unit="0.030"),
        dict(prefix="91", country="IN", per_unit="0.090", connection_fee="0.05"),
        dict(prefix="20", country="EG", per_unit="0.090", connection_fee="0.05"),
        dict(prefix="675", country="PG", per_unit="0.500"),
        dict(prefix="449", country="GB", per_unit="1.500", number_type="premium"),
        dict(kind="toll_free_inbound", prefix="", country="US", per_unit="0.0195"),
        dict(kind="toll_free_inbound", prefix="", country="GB", per_unit="0.030", connection_fee="0.01"),
        dict(kind="sms", prefix="", country="US", per_unit="0.0075"),
        dict(kind="sms", prefix="", country="CA", per_unit="0.0075"),
        dict(kind="sms", prefix="", country="GB", per_unit="0.040"),
    ]
    rates = []
    for line in lines:
        line = dict(line)
        line["per_unit"] = Decimal(line["per_unit"])
        if "connection_fee" in line:
            line["connection_fee"] = Decimal(line["connection_fee"])
        rates.append(RateFactory(**line))
    return rates


def at(day="2024-05-06", time="10:00:00"):
    return datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=UTC)


def graph_call(*, upn="alice@contoso.test", call_type="user_out", callee="+12065550100", caller="+14255550100",
               start=None, seconds=300, context=None, inventory="Subscriber", usage_id=None, **extra):
    """A getPstnCalls row as Graph returns it (camelCase, seven decimals)."""
    start = start or at()
    row = {
        "id": str(usage_id or uuid.uuid4()),
        "callId": str(uuid.uuid4()),
        "userId": "",
        "userPrincipalName": upn,
        "userDisplayName": upn.split("@")[0].title(),
        "startDateTime": start.strftime("%Y-%m-%dT%H:%M:%S.1234567Z"),
        "endDateTime": (start + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.1234567Z"),
        "duration": seconds,
        "charge": 0,
        "connectionCharge": 0,
        "callType": call_type,
        "currency": "USD",
        "calleeNumber": callee,
        "callerNumber": caller,
        "usageCountryCode": "",
        "tenantCountryCode": "US",
        "destinationContext": context,
        "destinationName": "",
        "conferenceId": None,
        "licenseCapability": "",
        "inventoryType": inventory,
        "operator": "Microsoft",
        "callDurationSource": "microsoft",
    }
    row.update(extra)
    return row


def graph_sms(*, upn="alice@contoso.test", sms_type="outbound", units=1, to="+12065550100", other_country="US",
              start=None, usage_id=None, **extra):
    start = start or at()
    row = {
        "id": str(usage_id or uuid.uuid4()),
        "smsId": str(uuid.uuid4()),
        "sentDateTime": start.strftime("%Y-%m-%dT%H:%M:%S.1234567Z"),
        "smsType": sms_type,
        "smsUnits": units,
        "callCharge": 0,
        "currency": "USD",
        "destinationContext": None,
        "destinationName": "",
        "destinationNumber": to,
        "sourceNumber": "+14255550100",
        "licenseCapability": "",
        "userId": "",
        "userPrincipalName": upn,
        "userDisplayName": upn.split("@")[0].title(),
        "userCountryCode": "",
        "tenantCountryCode": "US",
        "otherPartyCountryCode": other_country,
    }
    row.update(extra)
    return row


def page(rows, sms=False):
    report = "getSmsLog" if sms else "getPstnCalls"
    return {
        "@odata.context": f"https://graph.microsoft.com/v1.0/$metadata#Collection(microsoft.graph.callRecords.{report})",
        "@odata.count": len(rows),
        "value": rows,
        "@odata.nextLink": None,
    }


CURRENT_HEADER = [
    "UsageId", "Call ID", "Conference ID", "User Location", "Microsoft Entra ObjectId", "UPN", "User Display Name",
    "Caller ID", "Call Type", "Call Direction", "Number Type", "Domestic/International", "Destination Dialed",
    "Destination Number", "External Country", "Start Time", "End Time", "Duration Seconds", "Connection Fee", "Charge",
    "Currency", "Capability", "Operator", "Source of Call Duration", "Administrative Units",
]
OLDER_HEADER = [
    "UsageId", "Call ID", "Conference ID", "User Location", "AAD ObjectId", "UPN", "User Display Name", "Caller ID",
    "Call Type", "Number Type", "Domestic/International", "Destination Dialed", "Destination Number", "Start Time",
    "End Time", "Duration Seconds", "Connection Fee", "Charge", "Currency", "Capability",
]


def export_row(**values):
    """One row of the original export, by column name; unspecified columns get plausible values."""
    start = values.pop("start", at())
    seconds = values.pop("seconds", 300)
    row = {
        "UsageId": str(uuid.uuid4()),
        "Call ID": str(uuid.uuid4()),
        "Conference ID": "",
        "User Location": "US",
        "Microsoft Entra ObjectId": str(uuid.uuid4()),
        "AAD ObjectId": str(uuid.uuid4()),
        "UPN": "alice@contoso.test",
        "User Display Name": "Alice",
        "Caller ID": "+14255550100",
        "Call Type": "user_out",
        "Call Direction": "Outbound",
        "Number Type": "User",
        "Domestic/International": "Domestic",
        "Destination Dialed": "United States",
        "Destination Number": "+12065550100",
        "External Country": "US",
        "Start Time": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "End Time": (start + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Duration Seconds": str(seconds),
        "Connection Fee": "0.00",
        "Charge": "0.00",
        "Currency": "USD",
        "Capability": "MCOPSTN1",
        "Operator": "Microsoft",
        "Source of Call Duration": "Microsoft",
        "Administrative Units": "",
    }
    row.update(values)
    return row


def csv_bytes(rows, header=CURRENT_HEADER):
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(name, "") for name in header])
    return out.getvalue().encode("utf-8")


def fund(organization, amount="100.00", key="usage:fund"):
    """Credits posted through the ledger service (no gateway: usage tests are about spending)."""
    account = credit_account(organization)
    services.post_entry(account_id=account.pk, kind=EntryKind.FUNDING, amount=Decimal(amount), idempotency_key=key)
    account.refresh_from_db()
    return account


def today_at(days_ago=0, hour=10, minute=0):
    """A whole minute of today (UTC), or of `days_ago` days before."""
    now = datetime.now(UTC)
    return (now - timedelta(days=days_ago)).replace(hour=hour, minute=minute, second=0, microsecond=0)
