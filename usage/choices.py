"""Vocabulary of the usage report: call types, rating outcomes, capability codes, number types."""

from django.db import models


class RecordKind(models.TextChoices):
    PSTN = "pstn", "Calling Plans"
    SMS = "sms", "SMS"


class CallType(models.TextChoices):
    """The call types the original report shows. Others are accepted and rated by their direction."""

    USER_IN = "user_in", "user_in"
    USER_OUT = "user_out", "user_out"
    USER_OUT_CONF = "user_out_conf", "user_out_conf"
    USER_OUT_TRANSFER = "user_out_transfer", "user_out_transfer"
    USER_OUT_FORWARDING = "user_out_forwarding", "user_out_forwarding"
    CONF_IN = "conf_in", "conf_in"
    CONF_OUT = "conf_out", "conf_out"
    UNASSIGNED_IN = "unassigned_in", "unassigned_in"
    EMERGENCY_IN = "emergency_in", "emergency_in"
    EMERGENCY_OUT = "emergency_out", "emergency_out"
    UCAP_IN = "ucap_in", "ucap_in"
    UCAP_OUT = "ucap_out", "ucap_out"
    UCAP_OUT_CONF = "ucap_out_conf", "ucap_out_conf"


CALL_TYPE_HELP = {
    "user_in": "Inbound call to a user",
    "user_out": "Outbound call from a user",
    "user_out_conf": "Outbound call from a user, escalated to a conference",
    "user_out_transfer": "Call transferred by a user to an external number",
    "user_out_forwarding": "Call forwarded by a user to an external number",
    "conf_in": "Dial-in to an audio conference",
    "conf_out": "Dial-out from an audio conference",
    "unassigned_in": "Inbound call to a number not assigned to anyone",
    "emergency_in": "Emergency call back",
    "emergency_out": "Emergency call",
    "ucap_in": "Inbound call to an auto attendant or call queue",
    "ucap_out": "Outbound call from an auto attendant or call queue",
    "ucap_out_conf": "Outbound call from an auto attendant or call queue, escalated to a conference",
}

CONFERENCE_DIAL_OUT_TYPES = frozenset({"conf_out"})
CONFERENCE_DIAL_IN_TYPES = frozenset({"conf_in"})
EMERGENCY_TYPES = frozenset({"emergency_in", "emergency_out"})


def is_inbound(call_type: str) -> bool:
    return call_type.endswith("_in")


class Direction(models.TextChoices):
    INBOUND = "Inbound", "Inbound"
    OUTBOUND = "Outbound", "Outbound"


class DestinationContext(models.TextChoices):
    DOMESTIC = "Domestic", "Domestic"
    INTERNATIONAL = "International", "International"


class Rating(models.TextChoices):
    """Who pays for a record. Stored with the record, beside a sentence saying why."""

    INCLUDED_PLAN = "included_plan", "Included in calling plan minutes"
    INCLUDED_CONFERENCE = "included_conference", "Included in audio conferencing minutes"
    INCLUDED_SMS = "included_sms", "Included in calling plan SMS"
    FREE_INBOUND = "free_inbound", "Free: inbound"
    FREE_EMERGENCY = "free_emergency", "Free: emergency"
    CHARGED = "charged", "Charged to Communications Credits"
    REFUSED = "refused", "Refused: could not be charged"
    NOT_PRICED = "not_priced", "Not priced"
    NO_CHARGE = "no_charge", "No charge: not connected"


COVERED_RATINGS = frozenset(
    {
        Rating.INCLUDED_PLAN,
        Rating.INCLUDED_CONFERENCE,
        Rating.INCLUDED_SMS,
        Rating.FREE_INBOUND,
        Rating.FREE_EMERGENCY,
        Rating.NO_CHARGE,
    }
)


class Capability:
    DOMESTIC = "MCOPSTN1"
    DOMESTIC_INTERNATIONAL = "MCOPSTN2"
    DOMESTIC_120 = "MCOPSTN5"
    DOMESTIC_240 = "MCOPSTN6"
    DOMESTIC_120_PER_USER = "MCOPSTN8"
    PAY_AS_YOU_GO = "MCOPSTN9"
    CAPPED = "MCOPSTNCAP"
    CREDITS = "MCOPSTNPP"
    CONFERENCING = "MCOMEETADD"
    CONFERENCING_PAY_PER_MINUTE = "MCOMEETACPEA"
    FREE_CALL = "FREECALL"


# A person holding several calling plans is rated on the most generous one.
PLAN_PRIORITY = ["MCOPSTN2", "MCOPSTN1", "MCOPSTN6", "MCOPSTN5", "MCOPSTN8", "MCOPSTNCAP", "MCOPSTN9"]
KNOWN_LICENSES = frozenset(PLAN_PRIORITY) | {"MCOPSTNPP", "MCOMEETADD", "MCOMEETACPEA", "MCOEV"}

# Countries where the full Domestic plan allotment (3,000 minutes) applies; 1,200 elsewhere.
FULL_ALLOTMENT_COUNTRIES = frozenset({"US", "CA", "GB"})
# Calling Plan SMS is offered in these countries only.
SMS_COUNTRIES = frozenset({"US", "PR", "CA"})


class NumberType(models.TextChoices):
    """Kinds of numbers that price differently. Premium-rate and shared-cost numbers are never part of a pool."""

    LANDLINE = "landline", "Landline"
    MOBILE = "mobile", "Mobile"
    TOLL_FREE = "toll_free", "Toll-free"
    PREMIUM = "premium", "Premium-rate / shared-cost"


class CountryListKey(models.TextChoices):
    """The country lists rating reads (Django admin > Usage > Country lists; files in usage/data/)."""

    ZONE_A = "zone_a", "Audio Conferencing Zone A"
    INTERNATIONAL_PLAN = "international_plan", "Countries a Domestic and International Calling Plan includes"


class RateKind(models.TextChoices):
    OUTBOUND = "outbound", "Per minute, by destination prefix"
    TOLL_FREE_INBOUND = "toll_free_inbound", "Toll-free inbound, per minute, by country"
    SMS = "sms", "SMS, per segment, by country"


class ExportFormat(models.TextChoices):
    XLSX = "xlsx", "Excel workbook (.xlsx)"
    CSV_ZIP = "csv_zip", "Original format (.zip of CSV files)"
    ALLOCATION = "alloc", "Where the credits go (.xlsx)"


class ExportStatus(models.TextChoices):
    PENDING = "pending", "Waiting"
    RUNNING = "running", "Building"
    DONE = "done", "Ready"
    FAILED = "failed", "Failed"
