"""Usage pages: the PSTN and SMS usage report, its exports and downloads, imports, and how many
credits to buy (the API keys' pages are in api_key_views.py). Thin: read the forms, call a selector
or one service, render."""

from django.contrib import messages
from django.http import FileResponse, Http404, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import TemplateView

from billing.access import AdminCenterMixin

from . import selectors
from .access import UsageImportMixin, can_import
from .charts import kept_report_figures
from .choices import ExportFormat, ExportStatus, RecordKind
from .forms import EditColumnsForm, ImportForm
from .models import CallRecord, Export, ReportPreference, SmsRecord
from .paging import SORT_IN_DATABASE_ROWS, TablePage
from .services.exports import requesting
from .services.ingest import ImportRejected, import_file
from .tables import CallRecordTable, SmsRecordTable

REPORT_PARAMS = ("range", "start", "end", "user", "call_type", "direction", "destination", "charged")


def report_query(data):
    """The range and filter parameters of a report URL (not its paging or sorting)."""
    query = QueryDict(mutable=True)
    for key in REPORT_PARAMS:
        if data.get(key):
            query[key] = data[key]
    return query


class ReportView(AdminCenterMixin, View):
    """A usage report: its records and FilterSet (selectors.ReportState, by `kind`), its table, and
    a page of the table read by keyset (usage.paging)."""

    kind = RecordKind.PSTN
    table_class = CallRecordTable
    url_name = "usage:report"
    noun = "calls"
    template_name = "usage/report.html"

    def get(self, request):
        state = selectors.ReportState(self.organization, self.kind, request.GET)
        columns = self.table_class.column_choices()
        hidden = set(selectors.hidden_columns(request.user, self.organization, self.kind, self.table_class.DEFAULT_HIDDEN))
        visible = [name for name, _ in columns if name not in hidden] or [columns[0][0]]
        query = report_query(request.GET)
        table = TablePage(
            self.table_class, state.rows, request.GET, query=query, visible=visible, total=state.summary.records, sort_rows=state.sort_rows
        )
        if table.refused is not None:
            # A sort the page does not offer over this range (a link kept from a narrower range, or
            # made by hand): the default order, with why, rather than a page that takes seconds.
            messages.info(request, self.sort_hint([str(table.refused.verbose_name)], state.sort_rows) + " Shown newest first.")
            return redirect(f"{reverse(self.url_name)}?{query.urlencode()}" if query else reverse(self.url_name))
        figures = kept_report_figures(state.summary_key, state.summary, self.kind)
        return render(
            request,
            self.template_name,
            {
                "kind": self.kind,
                "noun": self.noun,
                "state": state,
                "range_form": state.range_form,
                "filter": state.filterset,
                "summary": state.summary,
                "charts": figures.charts,
                "headers": table.headers,
                "rows": table.rows,
                "rows_html": table.rows_html,
                "chart_rows_html": figures.rows_html,
                "page": table.page,
                "paging": table.links,
                "sort_hint": self.sort_hint(table.unsortable_here, state.sort_rows) if table.unsortable_here else "",
                "query": query.urlencode(),
                "range_query": report_query({k: request.GET.get(k) for k in ("range", "start", "end")}).urlencode(),
                "columns_form": EditColumnsForm(columns=columns, hidden=hidden),
                "can_import": can_import(request.tenant),
                "empty_text": self.table_class._meta.empty_text,
                "report_url": reverse(self.url_name),
                "immediate_limit": requesting.immediate_limit(),
            },
        )

    def sort_hint(self, labels, rows):
        """Why the columns `labels` do not sort here, and what would let them."""
        names = labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " or " + labels[-1]
        return (
            f"Narrow the range to at most {SORT_IN_DATABASE_ROWS:,} {self.noun} or filter by user to sort by {names}: "
            f"this range holds {rows:,}, too many to sort quickly."
        )


class SmsReportView(ReportView):
    kind = RecordKind.SMS
    table_class = SmsRecordTable
    url_name = "usage:sms_report"
    noun = "SMS"


# The report of each kind, for the views that take the kind from their URL.
REPORTS = {view.kind: view for view in (ReportView, SmsReportView)}


class RecordView(AdminCenterMixin, View):
    """Why this charge: one record of a report, how it was rated, who paid, and what paid for it."""

    def get(self, request, kind, pk):
        if kind not in REPORTS:
            raise Http404("No such report.")
        try:
            explanation = selectors.explain_charge(self.organization, kind, pk)
        except (CallRecord.DoesNotExist, SmsRecord.DoesNotExist):
            raise Http404("No such record in this organization.") from None
        return render(
            request, "usage/record.html",
            {"why": explanation, "record": explanation.record, "report_url": reverse(REPORTS[kind].url_name), "noun": REPORTS[kind].noun},
        )


def safe_back(request, fallback):
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


class EditColumnsView(AdminCenterMixin, View):
    def post(self, request, kind):
        if kind not in REPORTS:
            raise Http404("No such report.")
        columns = REPORTS[kind].table_class.column_choices()
        form = EditColumnsForm(request.POST, columns=columns, hidden=set())
        if form.is_valid():
            shown = set(form.cleaned_data["shown"]) or {columns[0][0]}
            hidden = [name for name, _ in columns if name not in shown]
            ReportPreference.objects.update_or_create(
                user=request.user, organization=self.organization, report=kind, defaults={"hidden_columns": hidden}
            )
            messages.success(request, "Columns saved. They stay as you set them the next time you open this report.")
        return redirect(safe_back(request, reverse(REPORTS[kind].url_name)))


class ExportView(AdminCenterMixin, View):
    """Export the rows and filters on screen: small exports download now, large ones are built in the background."""

    def post(self, request, kind):
        if kind not in REPORTS:
            raise Http404("No such report.")
        export_format = request.POST.get("format", ExportFormat.XLSX)
        if export_format not in ExportFormat.values:
            raise Http404("No such export format.")
        data = QueryDict(request.POST.get("query", ""))
        state = selectors.ReportState(self.organization, kind, data)
        back = reverse(REPORTS[kind].url_name) + ("?" + report_query(data).urlencode() if data else "")
        if not state.valid:
            messages.error(request, "Fix the date range or filters before exporting.")
            return redirect(back)
        parameters = state.export_parameters()
        rows = state.summary.records
        if rows <= requesting.immediate_limit():
            handle, name, size = requesting.build_immediate(self.organization, export_format, parameters)
            response = FileResponse(handle, as_attachment=True, filename=name)
            response["Content-Length"] = str(size)
            return response
        export, reused = requesting.export_in_background(
            organization=self.organization, user=request.user, export_format=export_format, parameters=parameters, rows_total=rows
        )
        if reused:
            messages.info(
                request,
                f"This export was built {dateformat.format(export.finished_at, 'M j, H:i')} UTC and no usage has been imported since: "
                "it is ready to download.",
            )
            return redirect("usage:export", public_id=export.public_id)
        messages.info(
            request,
            f"The export of {rows:,} rows is being prepared. It will be listed under Downloads for 7 days; "
            "you can leave this page.",
        )
        return redirect("usage:export", public_id=export.public_id)


def export_for(organization, public_id):
    try:
        return selectors.exports_for(organization).get(public_id=public_id)
    except Export.DoesNotExist:
        raise Http404("No such export in this organization.") from None


class ExportStatusView(AdminCenterMixin, View):
    def get(self, request, public_id):
        export = export_for(self.organization, public_id)
        if request.GET.get("format") == "json" or "application/json" in request.headers.get("Accept", ""):
            return JsonResponse(
                {
                    "status": export.status,
                    "status_label": export.get_status_display(),
                    "percent": export.percent,
                    "rows_done": export.rows_done,
                    "rows_total": export.rows_total,
                    "download_url": reverse("usage:export_file", args=[export.public_id]) if export.status == ExportStatus.DONE else "",
                    "error": export.error,
                }
            )
        return render(request, "usage/export_status.html", {"export": export})


class ExportFileView(AdminCenterMixin, View):
    def get(self, request, public_id):
        export = export_for(self.organization, public_id)
        if export.status != ExportStatus.DONE or not export.file or export.expires_at <= timezone.now():
            raise Http404("This export is not ready, or it has expired.")
        try:
            handle = export.file.open("rb")
        except FileNotFoundError:
            raise Http404("This export's file is gone.") from None
        return FileResponse(handle, as_attachment=True, filename=export.filename)


class DownloadsView(AdminCenterMixin, TemplateView):
    template_name = "usage/downloads.html"

    def get_context_data(self, **kwargs):
        now = timezone.now()
        return super().get_context_data(exports=selectors.live_exports(self.organization, now)[:100], now=now, **kwargs)


class ImportView(UsageImportMixin, View):
    template_name = "usage/import.html"

    def get(self, request):
        return render(request, self.template_name, {"form": ImportForm()})

    def post(self, request):
        form = ImportForm(request.POST, request.FILES)
        if not form.is_valid():
            return render(request, self.template_name, {"form": form}, status=400)
        upload = form.cleaned_data["file"]
        try:
            result = import_file(
                self.organization, upload.file, upload.name, form.cleaned_data["kind"], origin="upload", actor=request.user
            )
        except ImportRejected as rejected:
            return render(
                request, self.template_name, {"form": ImportForm(initial={"kind": form.cleaned_data["kind"]}), "rejected": rejected},
                status=400,
            )
        return render(request, self.template_name, {"form": ImportForm(initial={"kind": form.cleaned_data["kind"]}), "result": result})


class RecommendationView(AdminCenterMixin, TemplateView):
    template_name = "usage/recommendation.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(advice=selectors.recommendation(self.organization), **kwargs)
