"""Column names of the original export and of Microsoft Graph, and the fields they map to.

One list serves the exports (headers, order) and the importer (names, not positions), so what this
site exports its importer reads back.
"""

# The current export: 25 columns. `value` is the field written by the export; on import, the
# columns the source computed (charge, fee, capability) are kept as reported, and rated again here.
PSTN_EXPORT_COLUMNS = [
    ("UsageId", "usage_id"),
    ("Call ID", "call_id"),
    ("Conference ID", "conference_id"),
    ("User Location", "user_location"),
    ("Microsoft Entra ObjectId", "user_object_id"),
    ("UPN", "upn"),
    ("User Display Name", "display_name"),
    ("Caller ID", "caller_number"),
    ("Call Type", "call_type"),
    ("Call Direction", "direction"),
    ("Number Type", "number_type"),
    ("Domestic/International", "destination_context"),
    ("Destination Dialed", "destination_dialed"),
    ("Destination Number", "callee_number"),
    ("External Country", "external_country"),
    ("Start Time", "start_time"),
    ("End Time", "end_time"),
    ("Duration Seconds", "duration_seconds"),
    ("Connection Fee", "connection_fee"),
    ("Charge", "charge"),
    ("Currency", "currency"),
    ("Capability", "capability"),
    ("Operator", "operator"),
    ("Source of Call Duration", "duration_source"),
    ("Administrative Units", "administrative_units"),
]
PSTN_NEWER_ONLY = {"Call Direction", "External Country", "Operator", "Source of Call Duration", "Administrative Units"}
# Older exports carry the first 20 columns, without the five above.
PSTN_OLDER_COLUMNS = [c for c in PSTN_EXPORT_COLUMNS if c[0] not in PSTN_NEWER_ONLY]

PSTN_IMPORT_FIELDS = {name: field for name, field in PSTN_EXPORT_COLUMNS}
PSTN_IMPORT_FIELDS.update(
    {
        "Connection Fee": "reported_connection_fee",
        "Charge": "reported_charge",
        "Capability": "reported_capability",
        "Currency": "reported_currency",
        # Names the column had before Azure AD became Microsoft Entra ID.
        "AAD ObjectId": "user_object_id",
        "Azure AD ObjectId": "user_object_id",
        "Tenant Country": "tenant_country",
    }
)
PSTN_REQUIRED = ["UsageId", "Call Type", "Start Time", "Duration Seconds"]

SMS_EXPORT_COLUMNS = [
    ("UsageId", "usage_id"),
    ("SMS ID", "sms_id"),
    ("User Location", "user_location"),
    ("Microsoft Entra ObjectId", "user_object_id"),
    ("UPN", "upn"),
    ("User Display Name", "display_name"),
    ("Sent Time", "sent_time"),
    ("Direction", "sms_type"),
    ("Units", "segments"),
    ("Domestic/International", "destination_context"),
    ("Destination Name", "destination_name"),
    ("Destination Number", "destination_number"),
    ("Source Number", "source_number"),
    ("Other Party Country", "other_party_country"),
    ("Charge", "charge"),
    ("Currency", "currency"),
    ("Capability", "capability"),
]
SMS_IMPORT_FIELDS = {name: field for name, field in SMS_EXPORT_COLUMNS}
SMS_IMPORT_FIELDS.update(
    {
        "Charge": "reported_charge",
        "Capability": "reported_capability",
        "Currency": "reported_currency",
        "AAD ObjectId": "user_object_id",
        "Tenant Country": "tenant_country",
    }
)
SMS_REQUIRED = ["UsageId", "Sent Time", "Direction"]

# Microsoft Graph callRecords getPstnCalls / getSmsLog rows (camelCase), as they come: the keys the import
# reads. Graph's `currency` is not one (this site rates every record in the organization's currency):
# like any key not listed, it is ignored whatever it holds, while a value read must be text, a number,
# true, false or null (usage/services/sources/graph.py).
GRAPH_PSTN_FIELDS = {
    "id": "usage_id",
    "callId": "call_id",
    "userId": "user_object_id",
    "userPrincipalName": "upn",
    "userDisplayName": "display_name",
    "startDateTime": "start_time",
    "endDateTime": "end_time",
    "duration": "duration_seconds",
    "charge": "reported_charge",
    "connectionCharge": "reported_connection_fee",
    "callType": "call_type",
    "calleeNumber": "callee_number",
    "callerNumber": "caller_number",
    "usageCountryCode": "user_location",
    "tenantCountryCode": "tenant_country",
    "destinationContext": "destination_context",
    "destinationName": "destination_dialed",
    "conferenceId": "conference_id",
    "licenseCapability": "reported_capability",
    "inventoryType": "number_type",
    "operator": "operator",
    "callDurationSource": "duration_source",
}
GRAPH_PSTN_REQUIRED = ["id", "callType", "startDateTime", "duration"]

GRAPH_SMS_FIELDS = {
    "id": "usage_id",
    "smsId": "sms_id",
    "sentDateTime": "sent_time",
    "smsType": "sms_type",
    "smsUnits": "segments",
    "callCharge": "reported_charge",
    "destinationContext": "destination_context",
    "destinationName": "destination_name",
    "destinationNumber": "destination_number",
    "sourceNumber": "source_number",
    "licenseCapability": "reported_capability",
    "userId": "user_object_id",
    "userPrincipalName": "upn",
    "userDisplayName": "display_name",
    "userCountryCode": "user_location",
    "tenantCountryCode": "tenant_country",
    "otherPartyCountryCode": "other_party_country",
}
GRAPH_SMS_REQUIRED = ["id", "sentDateTime", "smsType"]


def normalize_header(name: str) -> str:
    return " ".join(name.replace("\ufeff", "").split()).casefold()
