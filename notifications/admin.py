"""Support staff's view of notifications: every delivery, its failures and errors; resend as a new delivery."""

from django.contrib import admin, messages
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.html import format_html

from billing.admin import ReadOnlyMixin

from . import services
from .models import Delivery, DeliveryFailure, DeliveryStatus, Event, LowBalanceThreshold, RolePreference


class DeliveryInline(ReadOnlyMixin, admin.TabularInline):
    model = Delivery
    fk_name = "event"
    fields = ("email", "recipient_name", "status", "attempts", "sent_at", "next_attempt_at", "last_error", "resend_of")
    readonly_fields = fields
    show_change_link = True
    extra = 0
    max_num = 0


@admin.register(Event)
class EventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("occurred_at", "organization", "kind", "audience", "summary", "deliveries_total", "deliveries_failed")
    list_filter = ("kind", "audience", "occurred_at")
    search_fields = ("organization__name", "summary", "dedupe_key")
    date_hierarchy = "occurred_at"
    list_select_related = ("organization",)
    readonly_fields = (
        "organization", "kind", "audience", "dedupe_key", "summary", "link_path", "context", "requested_by", "occurred_at", "created_at",
    )
    inlines = [DeliveryInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            n_deliveries=Count("deliveries"),
            n_failed=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.FAILED)),
        )

    @admin.display(description="Deliveries", ordering="n_deliveries")
    def deliveries_total(self, obj):
        return obj.n_deliveries

    @admin.display(description="Failed", ordering="n_failed")
    def deliveries_failed(self, obj):
        return obj.n_failed


class DeliveryFailureInline(ReadOnlyMixin, admin.TabularInline):
    model = DeliveryFailure
    fields = ("attempt", "at", "smtp_code", "permanent", "retry_at", "error")
    readonly_fields = fields
    extra = 0
    max_num = 0


class ResentFilter(admin.SimpleListFilter):
    title = "origin"
    parameter_name = "origin"

    def lookups(self, request, model_admin):
        return [("original", "Original"), ("resend", "Resent by support")]

    def queryset(self, request, queryset):
        if self.value() == "original":
            return queryset.filter(resend_of__isnull=True)
        if self.value() == "resend":
            return queryset.filter(resend_of__isnull=False)
        return queryset


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "pk", "event_link", "organization", "email", "status", "attempts", "sent_at", "next_attempt_at", "error_excerpt", "origin",
    )
    list_filter = ("status", ResentFilter, "event__kind", "created_at")
    search_fields = ("email", "recipient_name", "event__organization__name", "last_error")
    list_select_related = ("event__organization", "resend_of", "resent_by")
    readonly_fields = (
        "event", "recipient", "email", "recipient_name", "roles", "status", "attempts", "next_attempt_at", "claimed_at",
        "sent_at", "last_error", "resend_of", "resent_by", "created_at",
    )
    inlines = [DeliveryFailureInline]
    actions = ["resend", "retry_now"]

    @admin.display(description="Event")
    def event_link(self, obj):
        url = reverse("admin:notifications_event_change", args=[obj.event_id])
        return format_html('<a href="{}">{}</a>', url, obj.event.label)

    @admin.display(description="Organization", ordering="event__organization__name")
    def organization(self, obj):
        return obj.event.organization

    @admin.display(description="Last error")
    def error_excerpt(self, obj):
        return (obj.last_error[:80] + "…") if len(obj.last_error) > 80 else obj.last_error

    @admin.display(description="Origin")
    def origin(self, obj):
        if obj.resend_of_id:
            return f"Resend of #{obj.resend_of_id} by {obj.resent_by or 'support'}"
        return "Original"

    def has_resend_permission(self, request):
        return request.user.has_perm("notifications.resend_delivery")

    @admin.action(description="Send again (a new delivery, recorded as a resend)", permissions=["resend"])
    def resend(self, request, queryset):
        count = 0
        for delivery in queryset:
            services.resend_delivery(delivery=delivery, actor=request.user)
            count += 1
        self.message_user(request, f"{count} new deliveries queued as resends.", messages.SUCCESS)

    def has_retry_now_permission(self, request):
        return request.user.has_perm("notifications.resend_delivery")

    @admin.action(description="Try pending deliveries now (skip the back-off wait)", permissions=["retry_now"])
    def retry_now(self, request, queryset):
        count = services.retry_now(deliveries=list(queryset))
        self.message_user(request, f"{count} pending deliveries will be tried now.", messages.SUCCESS)


@admin.register(DeliveryFailure)
class DeliveryFailureAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("at", "delivery", "attempt", "smtp_code", "permanent", "retry_at", "error")
    list_filter = ("permanent", "smtp_code", "at")
    search_fields = ("error", "delivery__email", "delivery__event__organization__name")
    list_select_related = ("delivery__event",)


@admin.register(LowBalanceThreshold)
class LowBalanceThresholdAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("organization", "amount", "last_warned_at", "created_by", "created_at")
    search_fields = ("organization__name",)
    list_select_related = ("organization", "created_by")


@admin.register(RolePreference)
class RolePreferenceAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("organization", "kind", "role", "enabled", "updated_by", "updated_at")
    list_filter = ("kind", "role", "enabled")
    search_fields = ("organization__name",)
    list_select_related = ("organization", "updated_by")
