"""Support staff's view of the spend guard: policies, rules, blocks, cap crossings and the audit trail,
read-only (every change goes through usage.services.guard, which audits it); a block can be lifted
from the list by support staff who may change blocks."""

from django.contrib import admin, messages

from billing.admin import ReadOnlyAdmin

from .services.guard import lift_block
from .spend_guard import CapCrossing, CreditBlock, DestinationRule, GuardChange, SpendPolicy


@admin.register(SpendPolicy)
class SpendPolicyAdmin(ReadOnlyAdmin):
    list_display = ("organization", "scope", "department", "person", "call_cap", "person_day_cap", "organization_day_cap", "cap_action", "updated_at")
    list_filter = ("scope", "cap_action")
    search_fields = ("organization__name", "department", "person__upn")


@admin.register(DestinationRule)
class DestinationRuleAdmin(ReadOnlyAdmin):
    list_display = ("organization", "action", "target_label", "scope", "department", "person", "default_key", "lifted_at")
    list_filter = ("action", "scope", "number_type")
    search_fields = ("organization__name", "country", "prefix", "description", "default_key")


@admin.register(CreditBlock)
class CreditBlockAdmin(ReadOnlyAdmin):
    list_display = ("organization", "who", "rule", "starts_at", "until", "lifted_at", "incident_id")
    list_filter = ("cap",)
    search_fields = ("organization__name", "person__upn", "reason", "rule")
    actions = ["lift"]

    def has_lift_permission(self, request):
        return request.user.has_perm("usage.change_creditblock")

    @admin.action(description="Lift the selected blocks", permissions=["lift"])
    def lift(self, request, queryset):
        count = 0
        for block in queryset.filter(lifted_at__isnull=True).select_related("organization"):
            lift_block(block.organization, block.pk, actor=request.user)
            count += 1
        messages.success(request, f"{count} block(s) lifted.")


@admin.register(CapCrossing)
class CapCrossingAdmin(ReadOnlyAdmin):
    list_display = ("organization", "person", "cap", "day", "limit", "spent", "action", "at")
    list_filter = ("cap", "action")
    date_hierarchy = "day"


@admin.register(GuardChange)
class GuardChangeAdmin(ReadOnlyAdmin):
    list_display = ("organization", "subject", "subject_id", "action", "changed_by", "changed_at")
    list_filter = ("subject", "action")
    search_fields = ("organization__name", "reason")
