"""Caps with two imports of one organization at the same time, on PostgreSQL (threads, a real
database): the second import waits for the first one's RatingState lock, then starts its running
totals from what the first one charged, so the cap holds to the cent and is announced once."""

import threading
from decimal import Decimal

import pytest
from django.db import connections

from billing.choices import AdminRole
from billing.events import EntryPosted, billing_event
from notifications.models import Event
from tests.factories import OrganizationFactory, admin_in, spend_policy
from tests.markers import requires_postgres
from tests.usage.factories import PersonFactory, at, fund, graph_call, page
from usage.models import CallRecord, CapCrossing, CreditBlock
from usage.services.ingest import import_graph_payload

WAIT_SECONDS = 60
HOUR = 60 * 60  # 0.78 USD to the US for a person who pays every minute


def calls(n, hour):
    return page([graph_call(upn="dave@contoso.test", seconds=HOUR, start=at(time=f"{hour:02d}:{i:02d}:00")) for i in range(n)])


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_a_cap_holds_across_two_imports_at_the_same_time(rates, catalog, destinations):
    org = OrganizationFactory(name="Capped", slug="capped")
    admin_in(org, AdminRole.BILLING_ADMINISTRATOR)
    PersonFactory(organization=org, upn="dave@contoso.test", licenses="MCOPSTN9 MCOPSTNPP")
    fund(org, key="capped:fund")
    spend_policy(org, person_day_cap="5.00", cap_action="stop")
    first_holds_its_locks, second_started = threading.Event(), threading.Event()
    outcomes = {}

    def hold_the_first_import(sender, event, **kwargs):
        # The first import's usage charge: its records and the RatingState row are locked now.
        if event.entry.kind == "usage_charge" and not first_holds_its_locks.is_set():
            first_holds_its_locks.set()
            second_started.wait(WAIT_SECONDS)
            threading.Event().wait(1.0)  # the second import is now waiting for the lock, if it works

    def run_import(name, payload):
        try:
            outcomes[name] = import_graph_payload(org, payload, "pstn")
        except Exception as exc:  # noqa: BLE001 - asserted below
            outcomes[name] = exc
        finally:
            connections.close_all()

    billing_event.connect(hold_the_first_import, sender=EntryPosted)
    try:
        first = threading.Thread(target=run_import, args=("first", calls(10, 9)))
        first.start()
        assert first_holds_its_locks.wait(WAIT_SECONDS)
        second = threading.Thread(target=run_import, args=("second", calls(10, 10)))
        second.start()
        second_started.set()
        second.join(0.5)
        second_waited = second.is_alive()
        first.join(WAIT_SECONDS)
        second.join(WAIT_SECONDS)
    finally:
        second_started.set()
        billing_event.disconnect(hold_the_first_import, sender=EntryPosted)

    assert second_waited, "the second import of the organization waited for the first one's RatingState lock"
    first_result, second_result = outcomes["first"], outcomes["second"]
    assert not isinstance(first_result, Exception), first_result
    assert not isinstance(second_result, Exception), second_result
    assert (first_result.charged, first_result.refused) == (6, 4)  # 6 x 0.78 = 4.68; a 7th would make 5.46
    assert (second_result.charged, second_result.refused) == (0, 10)
    charged = CallRecord.objects.filter(organization=org, rating="charged")
    assert sum(r.charge for r in charged) == Decimal("4.68")
    assert CapCrossing.objects.filter(organization=org).count() == 1
    assert CreditBlock.objects.filter(organization=org, cap="person_day").count() == 1
    assert Event.objects.filter(organization=org, kind="spend_cap_reached").count() == 1


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_racing_imports_never_charge_beyond_the_cap(rates, catalog, destinations):
    org = OrganizationFactory(name="Raced", slug="raced")
    PersonFactory(organization=org, upn="dave@contoso.test", licenses="MCOPSTN9 MCOPSTNPP")
    fund(org, key="raced:fund")
    spend_policy(org, person_day_cap="10.00", organization_day_cap="12.00", cap_action="stop")
    start = threading.Barrier(3)
    outcomes = {}

    def run_import(name, payload):
        try:
            start.wait(WAIT_SECONDS)
            outcomes[name] = import_graph_payload(org, payload, "pstn")
        except Exception as exc:  # noqa: BLE001 - asserted below
            outcomes[name] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run_import, args=(f"import {n}", calls(40, 8 + n))) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_SECONDS * 2)
    assert all(not isinstance(result, Exception) for result in outcomes.values()), outcomes
    assert sum(result.charged for result in outcomes.values()) == 12  # 12 x 0.78 = 9.36; a 13th would make 10.14
    total = sum(r.charge for r in CallRecord.objects.filter(organization=org, rating="charged"))
    assert total == Decimal("9.36")
