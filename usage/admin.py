"""Support staff's view of usage: the rate table and people are managed here; records, imports,
pools and exports are read-only (they change only through the import and export services)."""

from django.contrib import admin, messages

from billing.admin import ReadOnlyAdmin

from .api_key_forms import ApiTokenAdminForm
from .models import ApiToken, CallRecord, DailyUsage, Export, ImportBatch, Person, PoolUsage, Rate, SmsRecord
from .services.api_keys import create_api_key, revoke_api_key


@admin.register(Rate)
class RateAdmin(admin.ModelAdmin):
    list_display = ("kind", "prefix", "country", "description", "per_unit", "connection_fee", "currency", "effective_from", "effective_to")
    list_filter = ("kind", "currency", "country")
    search_fields = ("prefix", "country", "description")
    ordering = ("kind", "country", "prefix", "-effective_from")
    fieldsets = (
        (None, {"fields": ("kind", "prefix", "country", "description")}),
        ("Price", {"fields": ("currency", "per_unit", "connection_fee"),
                   "description": "Prices keep six decimals; a record's charge (minutes x price + connection fee) is rounded once, "
                                  "to the cent, half up."}),
        ("Effective", {"fields": ("effective_from", "effective_to"),
                       "description": "A price change is a new line from its first day; end the old line on that same day."}),
    )


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ("upn", "display_name", "organization", "usage_location", "licenses", "phone_number", "department", "created_by_import")
    list_filter = ("organization", "usage_location", "is_resource_account", "created_by_import")
    search_fields = ("upn", "display_name", "phone_number", "object_id")
    autocomplete_fields = ("organization",)


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
