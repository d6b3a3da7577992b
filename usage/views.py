"""Usage pages: the PSTN and SMS usage report, its exports and downloads, imports, and how many
credits to buy. Thin: read the forms, call a selector or one service, render."""

from datetime import UTC, datetime, timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView

from billing.access import AdminCenterMixin

from . import selectors
from .access import UsageImportMixin, can_import
from .charts import bar_chart, data_rows_html
from .choices import ExportFormat, ExportStatus, RecordKind
from .filters import CallRecordFilter, SmsRecordFilter
from .forms import ApiKeyForm, EditColumnsForm, ImportForm, ReportRangeForm
from .models import ApiToken, Export, ReportPreference
from .services import api_keys, exports
from .services.ingest import ImportRejected, import_file
from .tables import CallRecordTable, SmsRecordTable, fast_rows, rows_html

PER_PAGE = 50
REPORTS = {
    RecordKind.PSTN: dict(table=CallRecordTable, filterset=CallRecordFilter, url="usage:report", noun="calls"),
    RecordKind.SMS: dict(table=SmsRecordTable, filterset=SmsRecordFilter, url="usage:sms_report", noun="SMS"),
}
REPORT_PARAMS = ("range", "start", "end", "user", "call_type", "direction", "destination", "charged")


def today_utc():
    return datetime.now(UTC).date()


def report_query(data):
    """The range and filter parameters of a report URL (not its paging or sorting)."""
    query = QueryDict(mutable=True)
    for key in REPORT_PARAMS:
        if data.get(key):
            query[key] = data[key]
    return query


class ReportState:
    """The report's range, filters and rows, read from a query string; shared by the page and exports."""

    def __init__(self, organization, kind, data):
        self.kind = kind
        self.spec = REPORTS[kind]
        has_range = any(data.get(k) for k in ("range", "start", "end"))
        self.range_form = ReportRangeForm(data if has_range else None, today=today_utc())
        self.start, self.end = self.range_form.period()
        base = selectors.records(organization, kind, self.start, self.end)
        self.filterset = self.spec["filterset"](data, queryset=base, organization=organization)
        self.valid = self.filterset.is_valid() and (not self.range_form.is_bound or self.range_form.is_valid())
        self.filters = self.filterset.form.cleaned_data if self.filterset.is_valid() else {}
        self.rows = self.filterset.qs if self.filterset.is_valid() else base.none()
        self.summary = selectors.summary(organization, kind, self.start, self.end, self.filters, filtered_records=self.rows)

    def export_parameters(self):
        clean = {k: v for k, v in self.filters.items() if v not in (None, "")}
        return exports.parameters_for(self.kind, self.start, self.end, clean)


class ReportView(AdminCenterMixin, View):
    kind = RecordKind.PSTN
    template_name = "usage/report.html"

    def get(self, request):
        state = ReportState(self.organization, self.kind, request.GET)
        table_class = state.spec["table"]
        columns = table_class.column_choices()
        hidden = set(selectors.hidden_columns(request.user, self.organization, self.kind, table_class.DEFAULT_HIDDEN))
        visible = [name for name, _ in columns if name not in hidden] or [columns[0][0]]
        sort_name, descending = self.sort(request.GET.get("sort", ""), table_class)
        page = selectors.keyset_page(
            state.rows.select_related("person") if self.kind == RecordKind.PSTN else state.rows,
            sort_field=table_class.SORTS[sort_name],
            descending=descending,
            per_page=PER_PAGE,
            after=selectors.Cursor.decode(request.GET["after"]) if request.GET.get("after") else None,
            before=selectors.Cursor.decode(request.GET["before"]) if request.GET.get("before") else None,
            last=request.GET.get("page") == "last",
            total=state.summary.records,
        )
        query = report_query(request.GET)
        sort_param = request.GET.get("sort", "")
        rows = fast_rows(table_class, page.rows, visible)
        return render(
            request,
            self.template_name,
            {
                "kind": self.kind,
                "noun": state.spec["noun"],
                "state": state,
                "range_form": state.range_form,
                "filter": state.filterset,
                "summary": state.summary,
                "charts": self.charts(state),
                "headers": self.headers(table_class, columns, visible, sort_name, descending, query),
                "rows": rows,
                "rows_html": rows_html(rows),
                "chart_rows_html": data_rows_html(state.summary.days),
                "page": page,
                "paging": self.paging(page, query, sort_param),
                "query": query.urlencode(),
                "range_query": report_query({k: request.GET.get(k) for k in ("range", "start", "end")}).urlencode(),
                "columns_form": EditColumnsForm(columns=columns, hidden=hidden),
                "can_import": can_import(request.tenant),
                "empty_text": table_class._meta.empty_text,
                "report_url": reverse(state.spec["url"]),
                "immediate_limit": exports.immediate_limit(),
            },
        )

    @staticmethod
    def sort(value, table_class):
        name = value.lstrip("-")
        if name not in table_class.SORTS:
            default = table_class._meta.order_by[0]
            return default.lstrip("-"), default.startswith("-")
        return name, value.startswith("-")

    @staticmethod
    def headers(table_class, columns, visible, sort_name, descending, query):
        labels = dict(columns)
        headers = []
        for name in visible:
            header = {"name": name, "label": labels[name], "numeric": name in table_class.NUMERIC, "href": "", "aria_sort": ""}
            if name in table_class.SORTS:
                q = query.copy()
                q["sort"] = name if (name == sort_name and descending) else f"-{name}"
                if name == sort_name:
                    header["aria_sort"] = "descending" if descending else "ascending"
                header["href"] = "?" + q.urlencode()
            headers.append(header)
        return headers

    @staticmethod
    def paging(page, query, sort_param):
        def link(**extra):
            q = query.copy()
            if sort_param:
                q["sort"] = sort_param
            for key, value in extra.items():
                q[key] = value
            return "?" + q.urlencode()

        return {
            "first": link() if page.has_previous else "",
            "previous": link(before=page.previous_cursor) if page.has_previous else "",
            "next": link(after=page.next_cursor) if page.has_next else "",
            "last": link(page="last") if page.has_next else "",
        }

    def charts(self, state):
        days = state.summary.days
        currency = state.summary.currency
        noun = "SMS" if self.kind == RecordKind.SMS else "Calls"
        total = state.summary.records
        charts = [
            (f"{noun} per day", "chart-records",
             f"{total:,} {noun.lower()} from {state.start:%B %d, %Y} to {state.end:%B %d, %Y}, one bar per UTC day.",
             lambda p: p.records, False, "#0f5bb5"),
            (f"Credit charges per day ({currency})", "chart-charges",
             f"{state.summary.charge:,.2f} {currency} charged to Communications Credits in the range, one bar per UTC day.",
             lambda p: p.charge, True, "#a04e00"),
        ]
        return [
            {
                "title": title,
                "svg": bar_chart(days, chart_id=chart_id, title=title, description=description, value_of=value_of, money=money, color=color),
            }
            for title, chart_id, description, value_of, money, color in charts
        ]


class SmsReportView(ReportView):
    kind = RecordKind.SMS


def safe_back(request, fallback):
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


class EditColumnsView(AdminCenterMixin, View):
    def post(self, request, kind):
        if kind not in REPORTS:
            raise Http404("No such report.")
        table_class = REPORTS[kind]["table"]
        columns = table_class.column_choices()
        form = EditColumnsForm(request.POST, columns=columns, hidden=set())
        if form.is_valid():
            shown = set(form.cleaned_data["shown"]) or {columns[0][0]}
            hidden = [name for name, _ in columns if name not in shown]
            ReportPreference.objects.update_or_create(
                user=request.user, organization=self.organization, report=kind, defaults={"hidden_columns": hidden}
            )
            messages.success(request, "Columns saved. They stay as you set them the next time you open this report.")
        return redirect(safe_back(request, reverse(REPORTS[kind]["url"])))


class ExportView(AdminCenterMixin, View):
    """Export the rows and filters on screen: small exports download now, large ones are built in the background."""

    def post(self, request, kind):
        if kind not in REPORTS:
            raise Http404("No such report.")
        export_format = request.POST.get("format", ExportFormat.XLSX)
        if export_format not in ExportFormat.values:
            raise Http404("No such export format.")
        data = QueryDict(request.POST.get("query", ""))
        state = ReportState(self.organization, kind, data)
        back = reverse(REPORTS[kind]["url"]) + ("?" + report_query(data).urlencode() if data else "")
        if not state.valid:
            messages.error(request, "Fix the date range or filters before exporting.")
            return redirect(back)
        parameters = state.export_parameters()
        rows = state.summary.records
        if rows <= exports.immediate_limit():
            handle, name, size = exports.build_immediate(self.organization, export_format, parameters)
            response = FileResponse(handle, as_attachment=True, filename=name)
            response["Content-Length"] = str(size)
            return response
        export = exports.request_export(
            organization=self.organization, user=request.user, export_format=export_format, parameters=parameters, rows_total=rows
        )
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


# API keys of the JSON endpoints ------------------------------------------------------------------

NEW_API_KEY_SESSION = "usage:new_api_key"
# The result page follows the create POST at once; a key waiting longer was never looked at.
NEW_API_KEY_LIFETIME = timedelta(minutes=10)
API_KEYS_DENIED = (
    "Only a Global, Billing, Teams or Teams Communications Administrator can create or revoke API keys. "
    "You can view the list."
)


def can_manage_api_keys(tenant):
    # A key imports usage, so the roles that may import usage are the ones that may hand out keys.
    return can_import(tenant)


def require_api_key_manager(request):
    if not can_manage_api_keys(request.tenant):
        raise PermissionDenied(API_KEYS_DENIED)


def hold_new_key(session, token, key):
    """Keep a new key for the result page: in the session, never in a URL."""
    session[NEW_API_KEY_SESSION] = {"token_id": token.pk, "key": key, "created_at": timezone.now().isoformat()}


def take_new_key(session):
    """The key waiting for the result page, removed from the session; {} when none, or too old to show."""
    held = session.pop(NEW_API_KEY_SESSION, None) or {}
    created_at = held.get("created_at")
    if not created_at or timezone.now() - datetime.fromisoformat(created_at) > NEW_API_KEY_LIFETIME:
        return {}
    return held


def api_endpoints(request):
    """The JSON endpoints a key opens, as absolute URLs, for the how-to on the pages."""
    return [
        {"method": "POST", "url": request.build_absolute_uri(reverse("usage_api:pstn_calls")),
         "what": "Microsoft Graph getPstnCalls pages (or rows), imported all or nothing."},
        {"method": "POST", "url": request.build_absolute_uri(reverse("usage_api:sms")),
         "what": "Microsoft Graph getSmsLog pages (or rows)."},
        {"method": "GET", "url": request.build_absolute_uri(reverse("usage_api:authorize")) + "?user=<UPN>&number=<E.164>",
         "what": "May this user call this number now, and for how many minutes."},
    ]


class ApiKeysSectionMixin(AdminCenterMixin):
    """Any page of the section but the result page drops a key still waiting in the session: the
    person went elsewhere instead of opening it, so it is not kept for later."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            take_new_key(request.session)
        return super().dispatch(request, *args, **kwargs)


class ApiKeysView(ApiKeysSectionMixin, View):
    """Every admin sees the organization's keys; the roles that may import usage create them here."""

    template_name = "usage/api_keys.html"

    def get(self, request):
        return self.render(request, ApiKeyForm())

    def post(self, request):
        require_api_key_manager(request)
        form = ApiKeyForm(request.POST)
        if not form.is_valid():
            return self.render(request, form, status=400)
        token, key = api_keys.create_api_key(organization=self.organization, name=form.cleaned_data["name"], actor=request.user)
        hold_new_key(request.session, token, key)
        messages.success(request, f"API key “{token.name}” created.")
        return redirect("usage:api_key_created")

    def render(self, request, form, status=200):
        can_manage = can_manage_api_keys(request.tenant)
        context = {
            "tokens": selectors.organization_keys(self.organization),
            "form": form if can_manage else None,
            "can_manage": can_manage,
            "endpoints": api_endpoints(request),
        }
        return render(request, self.template_name, context, status=status)


@method_decorator(never_cache, name="dispatch")
class ApiKeyCreatedView(AdminCenterMixin, View):
    """Shows a new key once; never cached, so the back button cannot bring it back either."""

    template_name = "usage/api_keys_created.html"

    def get(self, request):
        # Taken before the role check, so the key leaves the session whatever this request ends in.
        shown = take_new_key(request.session)
        require_api_key_manager(request)
        # Only a key of the current organization (the person may have switched organization since).
        token = selectors.organization_keys(self.organization).filter(pk=shown.get("token_id")).first()
        context = {"token": token, "key": shown.get("key") if token else None, "endpoints": api_endpoints(request)}
        return render(request, self.template_name, context)


class ApiKeyRevokeView(ApiKeysSectionMixin, View):
    """A confirmation page, then a POST that revokes; revoking twice changes nothing."""

    template_name = "usage/api_keys_revoke.html"

    def get(self, request, pk):
        require_api_key_manager(request)
        try:
            token = selectors.organization_keys(self.organization).get(pk=pk)
        except ApiToken.DoesNotExist:
            raise Http404("No such API key in this organization.") from None
        return render(request, self.template_name, {"token": token})

    def post(self, request, pk):
        require_api_key_manager(request)
        try:
            token, newly_revoked = api_keys.revoke_api_key(organization=self.organization, token_id=pk, actor=request.user)
        except ApiToken.DoesNotExist:
            raise Http404("No such API key in this organization.") from None
        if newly_revoked:
            messages.success(request, f"API key “{token.name}” revoked: the endpoints refuse it from now on.")
        else:
            messages.info(request, f"API key “{token.name}” was already revoked on {token.revoked_at:%Y-%m-%d %H:%M} UTC.")
        return redirect("usage:api_keys")
