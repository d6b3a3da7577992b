"""Calls at the first and last hours a date can hold (the API accepts 0001-01-01 and 9999-12-31): the
spend guard's days, detection's baseline and the allocation totals must not overflow. Found by
schemathesis: a call on 0001-01-01 made detection's baseline start before year 1 (a 500)."""

import pytest

from tests.usage.detection_scenario import calls
from tests.usage.factories import PersonFactory, fund, graph_call, standard_rates
from usage.models import CallRecord, HourlyCalls
from usage.services.destinations import load_destinations
from usage.services.guard import save_policy

pytestmark = pytest.mark.django_db

EDGES = (("0001-01-01T00:30:00Z", "0001-01-01T00:40:00Z"), ("9999-12-31T23:00:00Z", "9999-12-31T23:10:00Z"))


def edge_rows():
    rows = [graph_call(seconds=600, callee="+447911123456"), graph_call(seconds=600, callee="+447911123457")]
    for row, (start, end) in zip(rows, EDGES):
        row["startDateTime"], row["endDateTime"] = start, end
    return rows


def test_calls_at_the_edges_of_time_are_rated_under_caps_and_kept_by_detection(org, catalog, global_admin):
    load_destinations()
    standard_rates()
    fund(org, "100.00")
    PersonFactory(organization=org, upn="alice@contoso.test", licenses="MCOPSTNPP", usage_location="US")
    save_policy(org, actor=global_admin, person_day_cap="30.00", organization_day_cap="50.00", call_cap="10.00")
    result = calls(org, edge_rows())
    assert result.created == 2
    assert result.charged >= 1
    assert CallRecord.objects.filter(organization=org).count() == 2
    assert HourlyCalls.objects.filter(organization=org).count() == 2
