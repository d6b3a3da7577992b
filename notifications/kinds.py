"""The kinds of notification (the emails and Message center entries), in one registry.

A kind's code is what `Event.kind` stores. A new kind is one `NotificationKind` entry here plus three
templates in templates/notifications/emails/<code>/ (subject.txt, body.txt, body.html), and a line in
`notifications.mapping` saying which event of which app it answers.
"""

from dataclasses import dataclass, field

from billing.choices import BILLING_MANAGER_ROLES, AdminRole

ALL_ROLES = frozenset(AdminRole.values)
# Optional events that matter to the people running calling, not only to those paying for it.
CALLING_OPERATORS = BILLING_MANAGER_ROLES | {AdminRole.TEAMS_ADMINISTRATOR, AdminRole.TEAMS_COMMUNICATIONS_ADMINISTRATOR}


class Audience:
    ROLES = "roles"  # admins of the organization, chosen by role
    REQUESTER = "requester"  # the one admin who asked for it (an export)
    SUPPORT = "support"  # support staff (settings.SUPPORT_EMAILS); never shown to tenants

    CHOICES = [(ROLES, "Admins by role"), (REQUESTER, "The admin who asked"), (SUPPORT, "Support staff")]


def keyed(*names, per_day=False):
    """Dedupe on the given context values (and the UTC day): the same occurrence announced twice is one event."""

    def dedupe(account, context, now):
        if any(context.get(n) in (None, "") for n in names):
            return None
        parts = [str(context[n]) for n in names]
        if per_day:
            parts.append(now.date().isoformat())
        return ":".join(parts)

    return dedupe


@dataclass(frozen=True)
class NotificationKind:
    code: str
    label: str
    description: str
    audience: str = Audience.ROLES
    # Core events always reach every admin holding any of the 20 roles; preferences do not apply.
    core: bool = False
    default_roles: frozenset = field(default=BILLING_MANAGER_ROLES)
    # Context values that are amounts in the account's currency (get a `<key>_display`).
    money_keys: tuple = ()
    # Where the email's link goes (a URL name without arguments), unless the context gives `link_path`.
    link: str = "billing:credits"
    # (account, context, now) -> key or None; with None, every announcement is a new event. A sender
    # may also pass its own `dedupe_key` in the context, which wins.
    dedupe: object = None

    @property
    def optional(self):
        return self.audience == Audience.ROLES and not self.core

    def template(self, part):
        return f"notifications/emails/{self.code}/{part}"


TRANSACTION_SUCCEEDED = "transaction_succeeded"
RECHARGE_FAILED = "recharge_failed"
BALANCE_DEPLETED = "balance_depleted"
LOW_BALANCE = "low_balance"
EXPORT_READY = "export_ready"
AUTO_RECHARGE_PAUSED = "auto_recharge_paused"
BURST_GUARD_PAUSED = "burst_guard_paused"
AUTO_RECHARGE_REARMED = "auto_recharge_rearmed"
MONTHLY_CAP_REACHED = "monthly_cap_reached"
CARD_EXPIRES_BEFORE_NEXT_RECHARGE = "card_expires_before_next_recharge"
CREDITS_EXPIRING = "credits_expiring"
CREDITS_EXPIRED = "credits_expired"
RECONCILIATION_MISMATCH = "reconciliation_mismatch"
SPEND_CAP_REACHED = "spend_cap_reached"
SPEND_INCIDENT = "spend_incident"
SCHEDULED_REPORT = "scheduled_report"

KINDS = [
    NotificationKind(
        TRANSACTION_SUCCEEDED,
        "Transaction succeeded",
        "Funds were added or an auto-recharge was paid.",
        core=True,
        default_roles=ALL_ROLES,
        money_keys=("amount",),
        link="billing:credits",
    ),
    NotificationKind(
        RECHARGE_FAILED,
        "Recharge failed",
        "An auto-recharge could not be charged, with the reason and what to do.",
        core=True,
        default_roles=ALL_ROLES,
        money_keys=("amount",),
    ),
    NotificationKind(
        BALANCE_DEPLETED,
        "Balance reached zero",
        "Calls charged to credits and toll-free numbers stop until the balance is positive again.",
        core=True,
        default_roles=ALL_ROLES,
    ),
    NotificationKind(
        LOW_BALANCE,
        "Low balance",
        "The balance fell below one of the thresholds set on this page.",
        default_roles=CALLING_OPERATORS,
        money_keys=("threshold",),
    ),
    NotificationKind(
        AUTO_RECHARGE_PAUSED,
        "Auto-recharge paused",
        "Auto-recharge stopped itself after failed recharges in a row, until an admin acts.",
        default_roles=CALLING_OPERATORS,
        dedupe=keyed("paused_at"),
    ),
    NotificationKind(
        BURST_GUARD_PAUSED,
        "Auto-recharge paused: too many recharges",
        "Auto-recharge stopped itself after an unusual burst of recharges (runaway usage or misuse).",
        default_roles=CALLING_OPERATORS,
        money_keys=("amount",),
        dedupe=keyed("paused_at"),
    ),
    NotificationKind(
        AUTO_RECHARGE_REARMED,
        "Auto-recharge started again",
        "A new card was added and auto-recharge uses it.",
        dedupe=keyed("payment_method"),
    ),
    NotificationKind(
        MONTHLY_CAP_REACHED,
        "Monthly auto-recharge cap reached",
        "No more automatic top-ups this month: the monthly spending cap is reached.",
        money_keys=("cap", "spent", "amount"),
        dedupe=keyed("resumes_at"),
    ),
    NotificationKind(
        CARD_EXPIRES_BEFORE_NEXT_RECHARGE,
        "Card expires before the next recharge",
        "The card that auto-recharge charges expires before the next likely recharge.",
        dedupe=keyed("card", "expires"),
    ),
    NotificationKind(
        CREDITS_EXPIRING,
        "Credits about to expire",
        "Credits bought 12 months ago expire in 30 days, then in 7 days.",
        money_keys=("amount",),
        dedupe=keyed("notice", "expires_at"),
    ),
    NotificationKind(
        CREDITS_EXPIRED,
        "Credits expired",
        "What was left of a purchase made 12 months ago has expired.",
        money_keys=("amount",),
        link="billing:transactions",
        # The expiry job runs daily and announces each account's total once: the same total twice in one
        # day is the same announcement.
        dedupe=keyed("amount", per_day=True),
    ),
    NotificationKind(
        SPEND_INCIDENT,
        "Unusual calling detected",
        "Spike detection found a burst of calls or spend, calls to a new country or at an unusual hour (possible toll fraud).",
        money_keys=("spend",),
        link="incidents:list",
        # One alert per incident, however often the import that found it is retried or announced.
        dedupe=keyed("incident_id"),
    ),
    NotificationKind(
        EXPORT_READY,
        "Export ready",
        "An export you asked for is ready to download.",
        audience=Audience.REQUESTER,
        default_roles=frozenset(),
        link="home",
    ),
    NotificationKind(
        SPEND_CAP_REACHED,
        "Spend guard cap reached",
        "A person (or the organization) reached a spending cap of the spend guard: once per person per day.",
        money_keys=("limit", "spent"),
        link="billing:credits",
        dedupe=keyed("crossing_id"),
    ),
    NotificationKind(
        SCHEDULED_REPORT,
        "Scheduled report",
        "A weekly or monthly report you are subscribed to is ready in Downloads.",
        audience=Audience.REQUESTER,
        default_roles=frozenset(),
        link="usage:downloads",
    ),
    NotificationKind(
        RECONCILIATION_MISMATCH,
        "Reconciliation mismatch",
        "A ledger does not add up: support staff investigate.",
        audience=Audience.SUPPORT,
        default_roles=frozenset(),
        link="admin:index",
    ),
]

REGISTRY = {event_type.code: event_type for event_type in KINDS}
CHOICES = [(event_type.code, event_type.label) for event_type in KINDS]
TENANT_VISIBLE = [code for code, t in REGISTRY.items() if t.audience != Audience.SUPPORT]
OPTIONAL = [t for t in KINDS if t.optional]


def get(code) -> NotificationKind | None:
    return REGISTRY.get(code)
