import time
from decimal import Decimal

import pytest

from tests.factories import spend_policy
from tests.usage.factories import at, graph_call
from usage.services.ingest.kinds import CALLS
from usage.services.ingest.pipeline import rate_record
from usage.services.rating import RatingContext
from usage.services.sources import from_graph_payload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("destinations")]


def records(n):
    rows = [graph_call(upn="dave@contoso.test", callee=f"+4930{i % 5000:07d}", seconds=60 + i % 600, start=at(time=f"{9 + i % 10:02d}:00:00")) for i in range(n)]
    src = from_graph_payload({"value": rows}, "pstn", description="x")
    out = []
    from usage.services.ingest.checking import CheckedRows
    for chunk in CheckedRows(CALLS, src):
        out += chunk
    return out


def timed(ctx, recs):
    t = time.perf_counter()
    for r in recs:
        rate_record(ctx, CALLS.rater, dict(r), True)
    return time.perf_counter() - t


def test_cost(org, people, rates):
    recs = records(50000)
    for label, setup in (("none", None), ("defaults", "d"), ("caps", "c")):
        if setup == "c":
            spend_policy(org, person_day_cap="100000", call_cap="1000", organization_day_cap="100000", cap_action="stop")
        ctx = RatingContext(org, balance=Decimal("1000000"), allowed=True, guard=setup is not None)
        best = min(timed(ctx, recs) for _ in range(3))
        print(label, f"{best / len(recs) * 1e6:.2f} us/record", ctx.guard is not None)
