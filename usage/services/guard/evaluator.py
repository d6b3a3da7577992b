"""The spend guard as rating and authorization apply it: loaded once per import (or per question),
then asked once per record about to be charged to credits.

Order of the questions, the first that refuses decides:
1. the destination rules (person, then department, then organization scope; within a scope the most
   specific target: longest prefix, then country and type, country, type, every destination; at equal
   specificity a block wins): a matching block rule refuses;
2. credit blocks in force at the call's time (an admin's, an incident's), and the stops caps made that day;
3. the caps: per call, per person per day, per organization per day. At "stop" the call that would go
   beyond the cap is refused and the person (or, for the organization's cap, every call) is stopped
   for the rest of the day (UTC), until an admin lifts the block; at "warn only" it is charged and the
   crossing recorded, for one warning per person per day.

Running totals per person and per organization per day start from what is already charged those days,
read the first time a day is met (like pools per month); imports of one organization hold RatingState's
row lock, so no two imports count at once. Without caps or blocks a record costs a few dict lookups.
"""

from datetime import datetime, time
from datetime import timezone as dt_timezone

from django.db.models import Q, Sum
from django.urls import reverse

from billing.money import ZERO, to_money

from ...choices import Rating
from ...events import SpendCapReached, announce
from ...models import CallRecord, DailyUsage, Person, SmsRecord
from ...spend_guard import CapAction, CapCrossing, CapKind, CreditBlock, DestinationRule, GuardScope, RuleAction, SpendPolicy
from .blocks import block_for_cap, next_day_start

_UNKNOWN = object()


class GuardNote:
    """What the guard says of one charge: refused (and by what), or charged with a warning."""

    __slots__ = ("refused", "kind", "ref_id", "text")

    def __init__(self, refused, kind, ref_id, text):
        self.refused = refused
        self.kind = kind  # "destination_rule", "credit_block" or "cap"
        self.ref_id = ref_id  # the rule's or block's id; for a cap, its CapKind
        self.text = text

    def as_dict(self):
        return {"kind": self.kind, "id": self.ref_id, "description": self.text}


def rule_text(rule):
    default = ", a default rule" if rule.default_key else ""
    verb = "blocks" if rule.action == RuleAction.BLOCK else "allows"
    what = rule.description or rule.target_label
    return f"Spend guard: destination rule #{rule.pk} {verb} {rule.target_label} ({what}{default})."


def block_text(block, upn):
    who = f"calls of {upn}" if block.person_id else "calls of the whole organization"
    return f"Spend guard: credit block #{block.pk} stops {who} ({block.reason})."


class _RuleSet:
    """The active rules of one scope, indexed: by prefix (longest first), then by (country, type)."""

    __slots__ = ("by_prefix", "lengths", "by_target")

    def __init__(self, rules):
        self.by_prefix = {}
        self.by_target = {}
        for rule in rules:
            if rule.prefix:
                self.by_prefix.setdefault(rule.prefix, []).append(rule)
            else:
                key = (rule.country, rule.number_type)
                held = self.by_target.get(key)
                if held is None or (held.action == RuleAction.ALLOW and rule.action == RuleAction.BLOCK):
                    self.by_target[key] = rule
        for found in self.by_prefix.values():
            found.sort(key=lambda r: (-(bool(r.country) + bool(r.number_type)), r.action != RuleAction.BLOCK, r.pk))
        self.lengths = sorted({len(p) for p in self.by_prefix}, reverse=True)

    def match(self, digits, country, number_type):
        if digits:
            by_prefix = self.by_prefix
            for length in self.lengths:
                found = by_prefix.get(digits[:length])
                if found:
                    for rule in found:
                        if (not rule.country or rule.country == country) and (not rule.number_type or rule.number_type == number_type):
                            return rule
        by_target = self.by_target
        if by_target:
            return (
                by_target.get((country, number_type))
                or by_target.get((country, ""))
                or by_target.get(("", number_type))
                or by_target.get(("", ""))
            )
        return None


class _Day:
    __slots__ = ("person_totals", "org_total", "blocks", "stopped", "org_stopped", "waived")

    def __init__(self):
        self.person_totals = {}
        self.org_total = ZERO
        self.blocks = []  # blocks in force some time that day (admins', incidents')
        self.stopped = {}  # person id -> GuardNote: a cap at "stop" reached that day
        self.org_stopped = None
        self.waived = set()  # (person id or None, cap): a cap's block lifted that day


class SpendGuard:
    def __init__(self, organization, rules, policies, has_blocks):
        self.organization = organization
        self.currency = organization.currency
        self.org_rules = None
        self.dept_rules = {}
        self.person_rules = {}
        grouped = {}
        for rule in rules:
            grouped.setdefault((rule.scope, rule.department, rule.person_id), []).append(rule)
        for (scope, department, person_id), scoped in grouped.items():
            ruleset = _RuleSet(scoped)
            if scope == GuardScope.PERSON:
                self.person_rules[person_id] = ruleset
            elif scope == GuardScope.DEPARTMENT:
                self.dept_rules[department] = ruleset
            else:
                self.org_rules = ruleset
        self.org_only = not self.person_rules and not self.dept_rules
        self._decided = {}
        self.org_policy = next((p for p in policies if p.scope == GuardScope.ORGANIZATION), None)
        self.dept_policies = {p.department: p for p in policies if p.scope == GuardScope.DEPARTMENT}
        self.person_policies = {p.person_id: p for p in policies if p.scope == GuardScope.PERSON}
        self.org_day_cap = self.org_policy.organization_day_cap if self.org_policy else None
        self.org_action = (self.org_policy.cap_action if self.org_policy else "") or CapAction.WARN
        self.has_person_caps = any(p.call_cap is not None or p.person_day_cap is not None for p in policies)
        self.has_caps = self.has_person_caps or self.org_day_cap is not None
        self.has_blocks = has_blocks
        self.departments = {}
        if self.dept_rules or self.dept_policies:
            self.departments = dict(
                Person.objects.filter(organization=organization).exclude(department="").values_list("pk", "department")
            )
        self.upns = {}
        self._limits = {}
        self.days = {}
        self.crossings = {}  # (person id or None, cap, day) -> [limit, spent, action, at, stopped]

    @classmethod
    def load(cls, organization):
        """The guard of an organization, or None when nothing in it can refuse or warn."""
        rules = list(DestinationRule.objects.filter(organization=organization, lifted_at__isnull=True))
        policies = list(SpendPolicy.objects.filter(organization=organization))
        has_blocks = CreditBlock.objects.filter(organization=organization, lifted_at__isnull=True).exists()
        if not rules and not has_blocks and not any(
            p.call_cap is not None or p.person_day_cap is not None or p.organization_day_cap is not None for p in policies
        ):
            return None
        return cls(organization, rules, policies, has_blocks)

    # Destinations ---------------------------------------------------------------------------

    def rule_for(self, person_id, digits, country, number_type):
        """The destination rule that decides for this person and number, or None (allowed: no rule)."""
        if person_id is not None:
            if self.person_rules:
                ruleset = self.person_rules.get(person_id)
                if ruleset is not None:
                    rule = ruleset.match(digits, country, number_type)
                    if rule is not None:
                        return rule
            if self.dept_rules:
                ruleset = self.dept_rules.get(self.departments.get(person_id))
                if ruleset is not None:
                    rule = ruleset.match(digits, country, number_type)
                    if rule is not None:
                        return rule
        if self.org_rules is not None:
            return self.org_rules.match(digits, country, number_type)
        return None

    # Caps -----------------------------------------------------------------------------------

    def limits(self, person_id):
        """(cap per call, cap per person per day, action) for a person: field by field, the person's
        policy, else their department's, else the organization's."""
        found = self._limits.get(person_id)
        if found is None:
            chain = [self.person_policies.get(person_id), self.dept_policies.get(self.departments.get(person_id)), self.org_policy]
            chain = [p for p in chain if p is not None]
            call_cap = next((p.call_cap for p in chain if p.call_cap is not None), None)
            day_cap = next((p.person_day_cap for p in chain if p.person_day_cap is not None), None) if person_id is not None else None
            action = next((p.cap_action for p in chain if p.cap_action), CapAction.WARN)
            found = self._limits[person_id] = (call_cap, day_cap, action)
        return found

    def day(self, day):
        state = self.days.get(day)
        if state is None:
            state = self.days[day] = self._load_day(day)
        return state

    def _load_day(self, day):
        org = self.organization
        state = _Day()
        start = datetime.combine(day, time.min, tzinfo=dt_timezone.utc)
        end = next_day_start(day)
        if self.has_person_caps:
            totals = state.person_totals
            for model, field in ((CallRecord, "start_time"), (SmsRecord, "sent_time")):
                rows = (
                    model.objects.filter(organization=org, rating=Rating.CHARGED, person__isnull=False, **{f"{field}__gte": start, f"{field}__lt": end})
                    .values("person_id")
                    .annotate(total=Sum("charge"))
                    .values_list("person_id", "total")
                )
                for person_id, total in rows:
                    totals[person_id] = to_money(totals.get(person_id, ZERO) + total)
        if self.org_day_cap is not None:
            state.org_total = to_money(
                DailyUsage.objects.filter(organization=org, day=day, rating=Rating.CHARGED).aggregate(total=Sum("charge"))["total"] or ZERO
            )
        if self.has_blocks or self.has_caps:
            blocks = CreditBlock.objects.filter(organization=org).filter(
                Q(lifted_at__isnull=True, starts_at__lt=end) & (Q(until__isnull=True) | Q(until__gt=start)) | Q(cap_day=day)
            ).select_related("person")
            for block in blocks:
                if block.cap and block.cap_day == day:
                    if block.lifted_at is not None:
                        state.waived.add((block.person_id, block.cap))
                        continue
                    note = GuardNote(True, "credit_block", block.pk, block_text(block, block.person.upn if block.person_id else ""))
                    if block.person_id is None:
                        state.org_stopped = note
                    else:
                        state.stopped[block.person_id] = note
                elif block.lifted_at is None and not block.cap:
                    state.blocks.append(block)
        return state

    # The question ---------------------------------------------------------------------------

    def check(self, person, amount, at, destination):
        """None: charge it. A GuardNote: refused (`refused`), or charged with a warning. A charge
        let through is added to the day's totals."""
        person_id = person.id if person is not None else None
        if destination is not None:
            if self.org_only:
                # Only organization rules: the decision depends on the destination alone, and the same
                # numbers come back again and again in a file.
                rule = self._decided.get(destination, _UNKNOWN)
                if rule is _UNKNOWN:
                    if len(self._decided) > 200_000:
                        self._decided.clear()
                    rule = self._decided[destination] = self.org_rules.match(*destination) if self.org_rules is not None else None
            else:
                rule = self.rule_for(person_id, *destination)
            if rule is not None and rule.action == RuleAction.BLOCK:
                return GuardNote(True, "destination_rule", rule.pk, rule_text(rule))
        if not self.has_caps and not self.has_blocks:
            return None
        day = at.date()
        state = self.days.get(day) or self.day(day)
        if state.org_stopped is not None:
            return state.org_stopped
        if person_id is not None:
            stopped = state.stopped.get(person_id)
            if stopped is not None:
                return stopped
        for block in state.blocks:
            if (block.person_id is None or block.person_id == person_id) and block.is_active_at(at):
                return GuardNote(True, "credit_block", block.pk, block_text(block, person.upn if person is not None else ""))
        if not self.has_caps:
            return None
        note = None
        call_cap, day_cap, action = self.limits(person_id)
        who = person.upn if person is not None else "the organization"
        if person is not None and person_id not in self.upns:
            name = getattr(person, "display_name", "")
            self.upns[person_id] = f"{name} ({person.upn})" if name else person.upn
        if call_cap is not None and amount > call_cap and person_id is not None:
            note = self._cross(state, person_id, CapKind.CALL, day, call_cap, amount, action, at, who)
            if note.refused:
                return note
        if day_cap is not None:
            total = state.person_totals.get(person_id, ZERO) + amount
            if total > day_cap:
                note = self._cross(state, person_id, CapKind.PERSON_DAY, day, day_cap, total, action, at, who)
                if note.refused:
                    return note
        if self.org_day_cap is not None:
            total = state.org_total + amount
            if total > self.org_day_cap:
                note = self._cross(state, None, CapKind.ORGANIZATION_DAY, day, self.org_day_cap, total, self.org_action, at, "the organization")
                if note.refused:
                    return note
        if person_id is not None:
            state.person_totals[person_id] = state.person_totals.get(person_id, ZERO) + amount
        state.org_total += amount
        return note

    def refusal_now(self, person, at):
        """For authorization, before a call: a block in force, or a cap at "stop" already reached today."""
        if not self.has_caps and not self.has_blocks:
            return None
        person_id = person.id if person is not None else None
        state = self.day(at.date())
        stopped = state.org_stopped or (state.stopped.get(person_id) if person_id is not None else None)
        if stopped is not None:
            return stopped
        for block in state.blocks:
            if (block.person_id is None or block.person_id == person_id) and block.is_active_at(at):
                return GuardNote(True, "credit_block", block.pk, block_text(block, person.upn if person is not None else ""))
        room = self.room(person_id, at)
        if room is not None and room[0] <= 0:
            return GuardNote(True, "cap", room[1], f"Spend guard: {CapKind(room[1]).label.lower()} reached today: calls charged to credits are refused.")
        return None

    def room(self, person_id, at):
        """(credits one more call may cost before a cap at "stop", that cap) or None when no such cap."""
        if not self.has_caps:
            return None
        state = self.day(at.date())
        call_cap, day_cap, action = self.limits(person_id)
        found = []
        if action == CapAction.STOP:
            if call_cap is not None and (person_id, CapKind.CALL) not in state.waived:
                found.append((call_cap, CapKind.CALL))
            if day_cap is not None and (person_id, CapKind.PERSON_DAY) not in state.waived:
                found.append((day_cap - state.person_totals.get(person_id, ZERO), CapKind.PERSON_DAY))
        if self.org_day_cap is not None and self.org_action == CapAction.STOP and (None, CapKind.ORGANIZATION_DAY) not in state.waived:
            found.append((self.org_day_cap - state.org_total, CapKind.ORGANIZATION_DAY))
        return min(found) if found else None

    def _cross(self, state, person_id, cap, day, limit, spent, action, at, who):
        stop = action == CapAction.STOP and (person_id, cap) not in state.waived
        label = CapKind(cap).label.lower()
        if cap == CapKind.CALL:
            text = f"{label} of {limit} {self.currency} for {who}: this call costs {spent}"
        else:
            text = f"{label} of {limit} {self.currency} for {who} on {day.isoformat()}: {spent} with this call"
        key = (person_id, cap, day)
        if key not in self.crossings:
            self.crossings[key] = [limit, spent, CapAction.STOP if stop else CapAction.WARN, at, stop]
        if stop:
            ref = cap.value if hasattr(cap, "value") else cap
            until = "charges to credits stopped until the next day (UTC) or until an admin lifts the block."
            note = GuardNote(True, "cap", ref, f"Spend guard: {text}; {until}")
            # The calls after it are refused for the cap reached earlier, not "with this call".
            reached = f"{label} of {limit} {self.currency} for {who} reached earlier on {day.isoformat()} ({spent} with the call that reached it)"
            later = GuardNote(True, "cap", ref, f"Spend guard: {reached}; {until}")
            if cap == CapKind.ORGANIZATION_DAY:
                state.org_stopped = later
            else:
                state.stopped[person_id] = later
            return note
        return GuardNote(False, "cap", cap.value if hasattr(cap, "value") else cap, f"Spend guard: {text} (warn only).")

    # After the import -----------------------------------------------------------------------

    def save(self):
        """Record the caps reached (once per cap, person and day), make the blocks of caps at "stop",
        and announce the first crossing of each person (or of the organization) each day."""
        if not self.crossings:
            return
        org = self.organization
        days = {day for (_, _, day) in self.crossings}
        seen = set(
            CapCrossing.objects.filter(organization=org, day__in=days).values_list("person_id", "cap", "day")
        )
        told = {(person_id, day) for person_id, _, day in seen}
        for (person_id, cap, day), (limit, spent, action, at, stopped) in sorted(
            self.crossings.items(), key=lambda item: (item[0][2], str(item[0][0]), item[0][1])
        ):
            if (person_id, cap, day) in seen:
                continue
            crossing = CapCrossing.objects.create(
                organization=org, person_id=person_id, cap=cap, day=day, limit=limit, spent=spent, action=action
            )
            seen.add((person_id, cap, day))
            who = self.upns.get(person_id, "") if person_id is not None else "the organization"
            label = CapKind(cap).label
            if stopped:
                block_for_cap(
                    org, person_id=person_id, cap=cap, day=day, starts_at=at,
                    rule=f"{label}: {limit} {self.currency}",
                    reason=f"{label} of {limit} {self.currency} reached by {who} on {day.isoformat()} ({spent} with the call that reached it).",
                )
            if (person_id, day) in told:
                continue
            told.add((person_id, day))
            announce(
                SpendCapReached(
                    organization=org, crossing_id=crossing.pk, cap=label, who=who, day=day, limit=limit, spent=spent,
                    currency=self.currency, stopped=stopped, guard_path=reverse("guard:home"),
                )
            )
        self.crossings.clear()
