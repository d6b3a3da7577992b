"""Every event another app declares reaches an email: none is left unmapped, and no line of the mapping
names something that is not a declared event."""

from pathlib import Path

from django.conf import settings

from billing import events as billing_events
from notifications import kinds, mapping
from usage import events as usage_events

DECLARED = set(billing_events.EVENTS) | set(usage_events.EVENTS)


def test_every_declared_event_has_a_mapping():
    assert DECLARED - set(mapping.HANDLERS) == set()


def test_every_mapping_names_a_declared_event():
    assert set(mapping.HANDLERS) - DECLARED == set()


def test_each_declared_event_has_its_own_code():
    codes = [event.code for event in DECLARED]
    assert len(codes) == len(set(codes))
    declared_codes = {*billing_events.BillingEventCode, *usage_events.UsageEventCode}
    assert {str(code) for code in codes} == {str(code) for code in declared_codes}


def test_every_kind_a_mapping_records_is_registered_with_its_three_templates():
    templates = Path(settings.BASE_DIR) / "templates"
    for handler in mapping.HANDLERS.values():
        kind = getattr(handler, "kind", None)
        if kind is None:
            continue  # a handler of its own (payment, depletion, low balance) names its kind in its code
        assert kinds.get(kind) is not None, kind
        for part in ("subject.txt", "body.txt", "body.html"):
            assert (templates / kinds.get(kind).template(part)).exists(), (kind, part)


def test_every_precheck_belongs_to_a_mapped_event():
    assert set(mapping.ONLY_IF) <= set(mapping.HANDLERS)
