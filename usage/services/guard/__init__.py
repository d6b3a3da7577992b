"""The spend guard's writes (each atomic and audited) and the evaluator rating and authorization use
(docs/spend-guard.md).

- policies: save_policy (create or update), update_policy, delete_policy;
- rules: create_rule, update_rule, delete_rule, lift_rule, apply_rule, restore_defaults, seed_default_rules,
  block_destination (the incident page's "block the destination");
- blocks: block_person, lift_block (and block_for_cap, which rating uses at a cap at "stop");
- evaluator: SpendGuard (loaded once per import) and evaluate_call (one question, for authorization).
"""

from .blocks import block_for_cap, block_person, lift_block, next_day_start
from .evaluator import GuardNote, SpendGuard
from .policies import delete_policy, save_policy, update_policy
from .rules import (
    apply_rule,
    block_destination,
    create_rule,
    delete_rule,
    lift_rule,
    restore_defaults,
    seed_default_rules,
    update_rule,
)
from .validation import GuardError, person_of

create_policy = save_policy


def evaluate_call(organization, *, person, amount, at, digits="", country="", number_type="", guard=None):
    """What the guard says of one call charged to credits: None (charge it) or a GuardNote.
    Nothing is recorded (rating records crossings through its own SpendGuard)."""
    guard = guard if guard is not None else SpendGuard.load(organization)
    if guard is None:
        return None
    destination = (digits, country, number_type) if (digits or country or number_type) else None
    return guard.check(person, amount, at, destination)


__all__ = [
    "GuardError",
    "GuardNote",
    "SpendGuard",
    "apply_rule",
    "block_destination",
    "block_for_cap",
    "block_person",
    "create_policy",
    "create_rule",
    "delete_policy",
    "delete_rule",
    "evaluate_call",
    "lift_block",
    "lift_rule",
    "next_day_start",
    "person_of",
    "restore_defaults",
    "save_policy",
    "seed_default_rules",
    "update_policy",
    "update_rule",
]
