"""The Message center and notification settings. Thin: read the form, call one service."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.views import View
from django.views.generic import TemplateView
from django_filters.views import FilterView
from django_tables2 import RequestConfig, SingleTableMixin

from billing.access import AdminCenterMixin, BillingManagerMixin
from billing.models import CreditAccount

from . import kinds, selectors, services
from .filters import EventFilter
from .forms import PreferencesForm, ThresholdForm
from .models import Event
from .tables import DeliveryTable, EventTable


class MessageCenterView(AdminCenterMixin, SingleTableMixin, FilterView):
    table_class = EventTable
    filterset_class = EventFilter
    template_name = "notifications/message_center.html"
    # Paged by the table only (not the view too: that paged the same rows again, with a COUNT of its own).
    table_pagination = {"per_page": 25}

    def get_queryset(self):
        return selectors.with_first_recipients(selectors.organization_events(self.organization))


class EventDetailView(AdminCenterMixin, TemplateView):
    template_name = "notifications/event_detail.html"

    def get_context_data(self, **kwargs):
        try:
            event = selectors.event_for(self.organization, self.kwargs["pk"])
        except Event.DoesNotExist:
            raise Http404("No such notification in this organization.") from None
        table = DeliveryTable(selectors.event_deliveries(event))
        RequestConfig(self.request, paginate={"per_page": 50}).configure(table)
        return super().get_context_data(event=event, table=table, **kwargs)


class NotificationSettingsView(AdminCenterMixin, View):
    """Everyone with an admin role may look; Global and Billing Administrators may change."""

    template_name = "notifications/settings.html"

    def render_page(self, request, preferences_form=None, threshold_form=None, status=200):
        can_edit = request.tenant.can_manage_billing
        current = selectors.preferences(self.organization)
        account = CreditAccount.objects.filter(organization=self.organization).only("balance", "currency").first()
        context = {
            "preferences_form": preferences_form or PreferencesForm(current=current, disabled=not can_edit),
            "threshold_form": threshold_form or ThresholdForm(),
            "thresholds": list(selectors.thresholds(self.organization)),
            "account": account,
            "currency": account.currency if account else self.organization.currency,
            "core_events": [t for t in kinds.KINDS if t.core],
            "can_edit": can_edit,
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request):
        return self.render_page(request)

    def post(self, request):
        if not request.tenant.can_manage_billing:
            raise PermissionDenied("Only a Global Administrator or a Billing Administrator can change notifications.")
        form = PreferencesForm(request.POST, current=selectors.preferences(self.organization))
        if not form.is_valid():
            return self.render_page(request, preferences_form=form, status=400)
        for kind, roles in form.cleaned_data.items():
            services.set_role_preferences(organization=self.organization, actor=request.user, kind=kind, roles=roles)
        messages.success(request, "Notification recipients saved.")
        return redirect("notifications:settings")


class AddThresholdView(BillingManagerMixin, View):
    def post(self, request):
        form = ThresholdForm(request.POST)
        if form.is_valid():
            try:
                threshold = services.add_low_balance_threshold(
                    organization=self.organization, actor=request.user, amount=form.cleaned_data["amount"]
                )
            except services.NotificationSettingsError as error:
                form.add_error("amount", error.message)
            else:
                messages.success(request, f"Low-balance warning added at {threshold.amount:,.2f}.")
                return redirect("notifications:settings")
        return NotificationSettingsView(organization=self.organization).render_page(request, threshold_form=form, status=400)


class RemoveThresholdView(BillingManagerMixin, View):
    def post(self, request, pk):
        if not services.remove_low_balance_threshold(organization=self.organization, actor=request.user, threshold_id=pk):
            raise Http404("No such threshold in this organization.")
        messages.success(request, "Low-balance warning removed.")
        return redirect("notifications:settings")
