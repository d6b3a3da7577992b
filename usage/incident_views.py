"""Billing > Your products > Communications Credits > Spend guard > Incidents: what spike detection found,
the calls involved, and the one-click answers (each confirmed on its own page, then POSTed).

Every admin role reads the incidents; acting on one (blocking the person's credit calls, blocking the
destination, dismissing it as expected) needs a role that may change billing settings (Global or
Billing Administrator). Thin: selectors read, services act."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.views import View
from django_tables2 import RequestConfig

from billing.access import AdminCenterMixin, BillingManagerMixin

from .incident_tables import IncidentCallTable, IncidentTable
from .models import IncidentStatus
from .selectors.incidents import incident_calls, incident_of, incidents_of
from .services.detection import current, incident_actions

CALLS_PER_PAGE = 50


class IncidentListView(AdminCenterMixin, View):
    def get(self, request):
        status = request.GET.get("status", "")
        table = IncidentTable(incidents_of(self.organization, status))
        RequestConfig(request, paginate={"per_page": 25}).configure(table)
        return render(
            request,
            "usage/incidents.html",
            {"table": table, "status": status, "statuses": IncidentStatus.choices, "baseline_days": current().baseline_days},
        )


class IncidentView(AdminCenterMixin, View):
    def get(self, request, pk):
        incident = incident_of(self.organization, pk)
        # The page says whose and where to already: a column repeating it would push the rating and
        # the charge, what an admin checks, off a laptop's screen.
        # (The calls of a person's incident are all theirs; those of a country's, all to that country.)
        repeated = ["upn"] if incident.person_id else ["external_country"] if incident.country else []
        table = IncidentCallTable(incident_calls(incident), exclude=repeated)
        RequestConfig(request, paginate={"per_page": CALLS_PER_PAGE}).configure(table)
        return render(
            request,
            "usage/incident.html",
            {
                "incident": incident, "table": table, "actions": incident_actions.available(incident),
                "can_act": request.tenant.can_manage_billing, "person_block": incident_actions.person_block(incident),
            },
        )


class IncidentActionView(BillingManagerMixin, View):
    """GET: what the action will do, and its button; POST: do it. `action` comes from the URL pattern."""

    action = ""

    def dispatch(self, request, *args, **kwargs):
        if self.action not in incident_actions.ACTIONS:
            raise PermissionDenied("No such action.")
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, pk):
        incident = incident_of(self.organization, pk)
        action = incident_actions.ACTIONS[self.action]
        return render(
            request,
            "usage/incident_action.html",
            {"incident": incident, "action": action, "possible": action.possible(incident), "impossible": action.impossible_text(incident)},
        )

    def post(self, request, pk):
        incident = incident_of(self.organization, pk)
        action = incident_actions.ACTIONS[self.action]
        if not action.possible(incident):
            messages.info(request, action.impossible_text(incident))
            return redirect("incidents:detail", pk=incident.pk)
        done = action.run(self.organization, incident, actor=request.user, note=request.POST.get("note", "").strip())
        messages.success(request, done)
        return redirect("incidents:detail", pk=incident.pk)
