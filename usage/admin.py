"""Support staff's view of usage: the rate table and people are managed here; records, imports,
pools and exports are read-only (they change only through the import and export services)."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone

from billing.admin import ReadOnlyAdmin

from .api_key_forms import ApiTokenAdminForm
from .models import (
    ApiToken,
    CallRecord,
    CountryList,
    DailyUsage,
    Destination,
    DestinationPrefix,
    Export,
    ImportBatch,
    Incident,
    Person,
    PoolUsage,
    Rate,
    RateCard,
    ReportRun,
    ReportSubscription,
    SmsRecord,
)
from .rate_card_forms import RateCardExportForm, RateCardUploadForm
from .selectors import card_rates, rate_currencies
from .services.api_keys import create_api_key, revoke_api_key
from .services.fraud_simulation import NoOneToSimulate, simulate_fraud_burst
from .services.rate_cards import CardRejected, apply_rate_card, discard_rate_card, read_and_preview, stage_rate_card, write_card


@admin.register(Rate)
class RateAdmin(admin.ModelAdmin):
    list_display = (
        "kind", "prefix", "country", "number_type", "description", "per_unit", "connection_fee", "minimum_seconds",
        "increment_seconds", "currency", "effective_from", "effective_to",
    )
    list_filter = ("kind", "currency", "number_type", "country")
    search_fields = ("prefix", "country", "description")
    ordering = ("kind", "country", "prefix", "-effective_from")
    readonly_fields = ("card",)
    fieldsets = (
        (None, {"fields": ("kind", "prefix", "country", "number_type", "description")}),
        ("Price", {"fields": ("currency", "per_unit", "connection_fee", "minimum_seconds", "increment_seconds"),
                   "description": "Prices keep six decimals; a record's charge (billed seconds / 60 x price + connection fee) "
                                  "is rounded once, to the cent, half up. A call is billed at least the minimum, then in steps "
                                  "of the increment (60/60: whole minutes; 1/1: per second)."}),
        ("Effective", {"fields": ("effective_from", "effective_to", "card"),
                       "description": "A price change is a new line from its first day; end the old line on that same day. "
                                      "Import a rate card to do both for a whole table."}),
    )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("import-card/", view(self.import_card), name="usage_rate_import_card"),
            path("import-card/<int:pk>/", view(self.preview_card), name="usage_rate_preview_card"),
            path("export-card/", view(self.export_card), name="usage_rate_export_card"),
        ] + super().get_urls()

    def _may_import(self, request):
        if not (request.user.has_perm("usage.add_rate") and request.user.has_perm("usage.change_rate")):
            raise PermissionDenied

    def import_card(self, request):
        """Upload a card: it is read and compared with the table, then shown for confirmation."""
        self._may_import(request)
        form = RateCardUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                card, _ = stage_rate_card(upload, filename=upload.name, actor=request.user)
            except CardRejected as exc:
                return self._render(request, "import_card.html", "Import a rate card", form=form, errors=exc.errors, truncated=exc.truncated)
            return redirect(reverse("admin:usage_rate_preview_card", args=[card.pk]))
        return self._render(request, "import_card.html", "Import a rate card", form=form)

    def preview_card(self, request, pk):
        """What a previewed card changes; POST applies it (or discards it)."""
        self._may_import(request)
        card = get_object_or_404(RateCard, pk=pk)
        if request.method == "POST" and card.status == RateCard.Status.PREVIEWED:
            if "discard" in request.POST:
                discard_rate_card(card.pk)
                messages.info(request, "The rate card was discarded; nothing was changed.")
                return redirect(reverse("admin:usage_rate_changelist"))
            try:
                card, preview = apply_rate_card(card.pk)
            except CardRejected as exc:
                messages.error(request, " ".join(exc.errors))
                return redirect(reverse("admin:usage_rate_import_card"))
            counts = preview.counts
            messages.success(
                request,
                f"Rate card applied from {preview.effective_from}: {counts['new_lines']} new, {counts['changed_lines']} changed, "
                f"{counts['removed_lines']} removed line(s). Calls before that day keep their prices.",
            )
            return redirect(reverse("admin:usage_rate_changelist"))
        preview, errors = None, []
        if card.status == RateCard.Status.PREVIEWED:
            try:
                preview = read_and_preview(card.text)
            except CardRejected as exc:
                errors = exc.errors
        return self._render(request, "preview_card.html", f"Rate card: {card.filename or card.pk}", card=card, preview=preview, errors=errors)

    def export_card(self, request):
        if not request.user.has_perm("usage.view_rate"):
            raise PermissionDenied
        form = RateCardExportForm(request.GET or None, currencies=rate_currencies())
        if request.GET and form.is_valid():
            currency, on = form.cleaned_data["currency"], form.cleaned_data["on"]
            response = HttpResponse(content_type="text/csv; charset=utf-8")
            day = (on or timezone.now().date()).isoformat()
            response["Content-Disposition"] = f'attachment; filename="rate-card-{currency}-{day}.csv"'
            write_card(card_rates(currency, on), response)
            return response
        return self._render(request, "export_card.html", "Export a rate card", form=form)

    def _render(self, request, template, title, **context):
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "title": title, **context}
        return render(request, f"admin/usage/rate/{template}", context)


@admin.register(RateCard)
class RateCardAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "currency", "effective_from", "filename", "status", "lines", "new_lines", "changed_lines",
                    "removed_lines", "created_by", "applied_at")
    list_filter = ("status", "currency")
    exclude = ("text",)


class DestinationPrefixInline(admin.StackedInline):
    model = DestinationPrefix
    extra = 0


@admin.register(Destination)
class DestinationAdmin(admin.ModelAdmin):
    list_display = ("country", "name", "calling_code")
    search_fields = ("country", "name", "calling_code", "prefixes__prefix")
    inlines = [DestinationPrefixInline]


@admin.register(DestinationPrefix)
class DestinationPrefixAdmin(admin.ModelAdmin):
    list_display = ("prefix", "number_type", "destination", "description")
    list_filter = ("number_type",)
    search_fields = ("prefix", "destination__country", "destination__name")
    list_select_related = ("destination",)
    autocomplete_fields = ("destination",)


@admin.register(CountryList)
class CountryListAdmin(admin.ModelAdmin):
    list_display = ("key", "count", "source_date", "updated_at", "updated_by")
    readonly_fields = ("updated_at", "updated_by")
    fields = ("key", "countries", "source", "source_date", "updated_at", "updated_by")

    @admin.display(description="countries")
    def count(self, obj):
        return len(obj.country_set)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields + (("key",) if obj else ())

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = (
        "upn", "display_name", "organization", "usage_location", "licenses", "phone_number", "department", "cost_center",
        "created_by_import",
    )
    list_filter = ("organization", "usage_location", "is_resource_account", "created_by_import", "department_locked")
    search_fields = ("upn", "display_name", "phone_number", "object_id", "department", "cost_center")
    autocomplete_fields = ("organization",)
    readonly_fields = ("department_seen_at",)

    def save_model(self, request, obj, form, change):
        # A department support types in stays: imports no longer take it from Administrative Units
        # (untick "department set by support" to hand it back to the imports).
        if "department" in form.changed_data and "department_locked" not in form.changed_data:
            obj.department_locked = True
        super().save_model(request, obj, form, change)

    actions = ["simulate_fraud"]

    @admin.action(description="Demo: import a simulated fraud burst (300 premium-rate calls last night) for the selected people",
                  permissions=["change"])
    def simulate_fraud(self, request, queryset):
        for person in queryset.select_related("organization")[:5]:
            try:
                result = simulate_fraud_burst(person.organization, upn=person.upn, actor=request.user)
            except NoOneToSimulate as exc:
                messages.error(request, str(exc))
                continue
            opened = Incident.objects.filter(organization=person.organization, last_batch_id=result.batch.pk).count()
            messages.success(
                request, f"{person.upn}: {result.created} simulated calls imported ({result.refused} refused); {opened} incident(s) opened or added to."
            )


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    list_display = ("detected_at", "organization", "kind", "upn", "country", "calls", "spend", "status", "resolved_by")
    list_filter = ("status", "kind", "organization")
    search_fields = ("upn", "country")
    list_select_related = ("organization", "resolved_by")


class ReportRunInline(admin.TabularInline):
    model = ReportRun
    extra = 0
    fields = ("period_start", "period_end", "claimed_at", "sent_at", "recipients", "export", "error")
    readonly_fields = fields
    show_change_link = False


@admin.register(ReportSubscription)
class ReportSubscriptionAdmin(admin.ModelAdmin):
    """Scheduled reports: deleting a run sends that period again at the next beat (the run is the claim)."""

    list_display = ("organization", "report", "frequency", "created_by", "created_at")
    list_filter = ("report", "frequency")
    autocomplete_fields = ("organization",)
    raw_id_fields = ("recipients", "created_by")
    inlines = [ReportRunInline]


class RecordAdmin(ReadOnlyAdmin):
    list_select_related = ("organization",)
    show_full_result_count = False  # no COUNT(*) over millions of rows
    search_fields = ("=usage_id", "=upn")
    list_filter = ("rating",)


@admin.register(CallRecord)
class CallRecordAdmin(RecordAdmin):
    list_display = ("start_time", "organization", "upn", "call_type", "callee_number", "duration_seconds", "charge", "rating")
    search_fields = ("=usage_id", "=upn", "=call_id")
    date_hierarchy = None


@admin.register(SmsRecord)
class SmsRecordAdmin(RecordAdmin):
    list_display = ("sent_time", "organization", "upn", "sms_type", "destination_number", "segments", "charge", "rating")


@admin.register(ImportBatch)
class ImportBatchAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "organization", "kind", "source", "filename", "rows_created", "rows_skipped", "rows_charged", "rows_refused", "charged_total")
    list_filter = ("kind", "source", "organization")


@admin.register(PoolUsage)
class PoolUsageAdmin(ReadOnlyAdmin):
    list_display = ("organization", "month", "key", "used", "size")
    list_filter = ("organization", "month")


@admin.register(DailyUsage)
class DailyUsageAdmin(ReadOnlyAdmin):
    list_display = ("organization", "kind", "day", "call_type", "destination_context", "rating", "records", "units", "charge")
    list_filter = ("organization", "kind", "rating")


@admin.register(Export)
class ExportAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "organization", "format", "status", "rows_done", "rows_total", "expires_at")
    list_filter = ("status", "format", "organization")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "organization", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = ("organization",)
    form = ApiTokenAdminForm
    fields = ("organization", "name", "prefix", "created_by", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "created_by", "created_at", "last_used_at")
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        # A new key is active; an existing one keeps its organization, and is revoked by the action
        # (like on the page), never brought back.
        return self.readonly_fields + (("revoked_at",) if obj is None else ("organization", "revoked_at"))

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        # Made by the one service, like on the page and by the command; the admin goes on with the saved row.
        token, key = create_api_key(organization=obj.organization, name=obj.name, actor=request.user)
        obj.pk = token.pk
        obj.refresh_from_db()
        messages.warning(request, f"The key for {obj.name} is {key} - copy it now: it is not stored and is shown only once.")

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        count = 0
        for token in queryset.select_related("organization"):
            _, newly_revoked = revoke_api_key(organization=token.organization, token_id=token.pk, actor=request.user)
            count += newly_revoked
        messages.success(request, f"{count} key(s) revoked.")

# The spend guard's models, in their own module (usage/guard_admin.py).
from . import guard_admin  # noqa: E402, F401
