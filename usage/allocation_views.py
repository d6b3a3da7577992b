"""Billing > Your products > Communications Credits > Where the credits go (every admin reads it) and
Scheduled reports (every admin sees them; Global and Billing Administrators change them). Thin: the
forms read the query, the selector answers, the services write."""

import tempfile

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from billing.access import AdminCenterMixin, BillingManagerMixin

from .allocation_charts import spend_chart
from .allocation_forms import GroupForm, SubscriptionForm
from .choices import RecordKind
from .forms import ReportRangeForm
from .models import ReportSubscription
from .selectors.allocation import FILTERS, NONE, allocation
from .selectors.report import today_utc
from .services import report_delivery
from .services.exports.allocation_xlsx import write_allocation_xlsx

RANGE_PARAMS = ("range", "start", "end")
ROWS_PER_PAGE = 100  # the table's rows on one page (the chart, the totals and the export hold them all)


def _query(data, names):
    query = QueryDict(mutable=True)
    for name in names:
        if data.get(name):
            query[name] = data[name]
    return query


class AllocationView(AdminCenterMixin, View):
    def get(self, request):
        data = request.GET
        has_range = any(data.get(k) for k in RANGE_PARAMS)
        range_form = ReportRangeForm(data if has_range else None, today=today_utc())
        start, end = range_form.period()
        group_form = GroupForm(data)
        group = group_form.cleaned_data.get("group") if group_form.is_valid() else ""
        group = group or "department"
        filters = {name: data[name] for name in FILTERS if data.get(name)}
        if data.get("export") == "xlsx":
            return self.export(start, end, filters)
        report = allocation(self.organization, start, end, group, filters)
        here = _query(data, (*RANGE_PARAMS, *FILTERS, "group"))
        range_query = _query(data, RANGE_PARAMS)
        pages = max(1, -(-len(report.rows) // ROWS_PER_PAGE))
        try:
            number = min(max(int(data.get("page", 1)), 1), pages)
        except ValueError:
            number = 1
        first = (number - 1) * ROWS_PER_PAGE
        shown = report.rows[first : first + ROWS_PER_PAGE]
        for row in shown:
            row.drill_url, row.calls_url = self.links(row, group, range_query, filters, start, end)
        paging = {"first": first + 1, "last": first + len(shown), "total": len(report.rows)}
        for name, target in (("previous", number - 1), ("next", number + 1)):
            if 1 <= target <= pages:
                query = here.copy()
                query["page"] = target
                paging[name] = f"?{query.urlencode()}"
        removals = []
        for name, label, text in report.filter_labels:
            without = here.copy()
            without.pop(name, None)
            removals.append({"label": label, "text": text, "url": f"?{without.urlencode()}"})
        export_query = here.copy()
        export_query["export"] = "xlsx"
        return render(
            request,
            "usage/allocation.html",
            {
                "report": report,
                "rows": shown,
                "paging": paging if pages > 1 else None,
                "range_form": range_form,
                "group_form": group_form,
                "filters": filters,
                "removals": removals,
                "chart": spend_chart(
                    report.rows,
                    chart_id="allocation-chart",
                    title=f"Credits spent by {report.group_label.lower()}",
                    description=f"Charged to credits from {start:%Y-%m-%d} to {end:%Y-%m-%d}, largest first; "
                    "the table below gives every figure.",
                    currency=report.currency,
                ),
                "export_url": f"?{export_query.urlencode()}",
                "clear_url": f"?{_query(data, (*RANGE_PARAMS, 'group')).urlencode()}",
            },
        )

    def links(self, row, group, range_query, filters, start, end):
        """(drill-down within this report, the calls in the usage report) for one row."""
        drill = calls = None
        if group != "person":
            query = range_query.copy()
            for name, value in filters.items():
                query[name] = value
            query[group] = row.key
            query["group"] = "person"
            drill = f"?{query.urlencode()}"
        report_query = QueryDict(mutable=True)
        report_query.update({"range": "custom", "start": start.isoformat(), "end": end.isoformat(), "charged": "yes"})
        if group == "person" and row.upn:
            report_query["user"] = row.upn
            call_type = filters.get("call_type", "")
            if call_type.startswith("sms:"):
                return drill, f"{reverse('usage:sms_report')}?{report_query.urlencode()}"
            if call_type:
                report_query["call_type"] = call_type
            calls = f"{reverse('usage:report')}?{report_query.urlencode()}"
        elif group == "call_type" and row.key != NONE:
            if row.kind == RecordKind.SMS:
                report_query["direction"] = row.key.split(":", 1)[1]
                calls = f"{reverse('usage:sms_report')}?{report_query.urlencode()}"
            else:
                report_query["call_type"] = row.key
                calls = f"{reverse('usage:report')}?{report_query.urlencode()}"
        return drill, calls

    def export(self, start, end, filters):
        handle = tempfile.TemporaryFile()
        write_allocation_xlsx(self.organization, start, end, filters, handle)
        handle.seek(0)
        name = f"Where the credits go {start:%Y-%m-%d} to {end:%Y-%m-%d}.xlsx"
        return FileResponse(handle, as_attachment=True, filename=name)


def organization_admins(organization):
    ids = report_delivery.admin_ids(organization)
    return get_user_model().objects.filter(pk__in=ids).order_by("first_name", "last_name", "username")


class SubscriptionsView(AdminCenterMixin, View):
    """Every admin sees the scheduled reports; Global and Billing Administrators add and change them."""

    def get(self, request):
        return self.show(request, SubscriptionForm(admins=organization_admins(self.organization)))

    def post(self, request):
        if not request.tenant.can_manage_billing:
            raise PermissionDenied("Only a Global Administrator or a Billing Administrator can change scheduled reports.")
        form = SubscriptionForm(request.POST, admins=organization_admins(self.organization))
        if form.is_valid():
            try:
                report_delivery.save_subscription(
                    organization=self.organization,
                    actor=request.user,
                    report=form.cleaned_data["report"],
                    frequency=form.cleaned_data["frequency"],
                    recipients=list(form.cleaned_data["recipients"]),
                )
            except ValidationError as error:
                for field, problems in error.message_dict.items():
                    for problem in problems:
                        form.add_error(field if field in form.fields else None, problem)
            else:
                messages.success(request, "Scheduled report saved. The first one is sent within the hour.")
                return redirect("allocation:subscriptions")
        return self.show(request, form, status=400)

    def show(self, request, form, status=200):
        today = today_utc()
        subscriptions = []
        for subscription in (
            ReportSubscription.objects.filter(organization=self.organization).prefetch_related("recipients", "runs")
        ):
            runs = list(subscription.runs.all()[:1])
            subscriptions.append(
                {
                    "object": subscription,
                    "recipients": ", ".join(u.get_full_name() or u.username for u in subscription.recipients.all()),
                    "last_run": runs[0] if runs else None,
                    "next_delivery": report_delivery.next_delivery(subscription.frequency, today),
                }
            )
        return render(
            request,
            "usage/subscriptions.html",
            {"form": form, "subscriptions": subscriptions, "can_edit": request.tenant.can_manage_billing},
            status=status,
        )


class DeleteSubscriptionView(BillingManagerMixin, View):
    def post(self, request, pk):
        if not report_delivery.delete_subscription(organization=self.organization, subscription_id=pk):
            raise Http404("No such scheduled report.")
        messages.success(request, "Scheduled report removed: nothing more is sent for it.")
        return redirect("allocation:subscriptions")
