"""Billing > Your products > Communications Credits > Rate lookup and Rates: what a call to a number
costs the organization today and who pays for it, and the rate table in force today, with its exports.
Every admin role may use them (they only read). Thin: the form reads the number, the selectors answer."""

import tempfile

from django.http import FileResponse
from django.shortcuts import render
from django.utils import timezone
from django.views import View
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from billing.access import AdminCenterMixin
from credits_site.streaming import csv_download

from .rate_lookup_forms import RateFilter, RateLookupForm
from .rate_lookup_tables import RateTable, csv_rows, write_xlsx
from .selectors.phone_numbers import NumberProblem
from .selectors.rate_lookup import look_up_rate, people_choices
from .selectors.rate_table import rates_in_force

LOOKUP_FIELDS = ("number", "country", "number_type", "user")


class RateLookupView(AdminCenterMixin, View):
    def get(self, request):
        asked = any(request.GET.get(name) for name in LOOKUP_FIELDS)
        form = RateLookupForm(
            request.GET if asked else None, organization=self.organization, people=people_choices(self.organization)
        )
        answer = None
        if asked and form.is_valid():
            try:
                answer = look_up_rate(self.organization, form.cleaned_data["destination"], upn=form.cleaned_data["user"])
            except NumberProblem as problem:
                form.add_error(problem.field, problem.message)
        return render(request, "usage/rate_lookup.html", {"form": form, "answer": answer, "asked": asked})


class RateTableView(AdminCenterMixin, SingleTableMixin, FilterView):
    table_class = RateTable
    filterset_class = RateFilter
    template_name = "usage/rate_table.html"
    paginate_by = 50

    def get_queryset(self):
        return rates_in_force(self.organization)

    def get(self, request, *args, **kwargs):
        export = request.GET.get("export")
        if export in ("csv", "xlsx"):
            return self.export(export)
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["today"] = timezone.now().date()
        context["currency"] = self.organization.currency
        query = self.request.GET.copy()
        for key in ("page", "export"):
            query.pop(key, None)
        context["export_query"] = query.urlencode()
        return context

    def export(self, export_format):
        filterset = self.filterset_class(self.request.GET, queryset=self.get_queryset(), request=self.request)
        rates = filterset.qs if filterset.is_valid() else self.get_queryset().none()
        rates = rates.order_by("country", "prefix", "kind", "pk").iterator(chunk_size=2000)
        name = f"communications-credits-rates-{timezone.now().date():%Y-%m-%d}"
        if export_format == "csv":
            return csv_download(csv_rows(rates), f"{name}.csv")
        handle = tempfile.TemporaryFile()
        write_xlsx(rates, handle)
        handle.seek(0)
        return FileResponse(handle, as_attachment=True, filename=f"{name}.xlsx")
