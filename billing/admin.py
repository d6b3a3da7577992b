"""Support staff's view of every tenant. Money moves only through the services, with a reason."""

import uuid

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.shortcuts import redirect, render
from django.urls import path, reverse

from . import selectors, services
from .exceptions import BillingError
from .models import (
    AutoRechargeChange,
    AutoRechargePolicy,
    AutoRechargeState,
    CreditAccount,
    CreditLot,
    LedgerEntry,
    Membership,
    MembershipRole,
    Organization,
    Payment,
    PaymentMethod,
    Product,
    Receipt,
    ReconciliationMismatch,
    Subscription,
)
from .services.auto_recharge.support import resume_auto_recharge, retry_failed_recharge
from .services.demo import spend_demo_credits
from .services.reconciliation import find_mismatches, reconcile


class ReadOnlyMixin:
    """For records that change only through services: support reads them, never edits them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    pass


class MembershipRoleInline(admin.TabularInline):
    model = MembershipRole
    extra = 1


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "organization", "role_list")
    list_filter = ("organization", "roles__role")
    search_fields = ("user__username", "user__email", "organization__name")
    autocomplete_fields = ("user", "organization")
    inlines = [MembershipRoleInline]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "organization").prefetch_related("roles")

    @admin.display(description="Roles")
    def role_list(self, obj):
        return ", ".join(r.get_role_display() for r in obj.roles.all()) or "No admin role"


class SubscriptionInline(admin.TabularInline):
    model = Subscription
    extra = 0


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "country", "billing_region", "purchase_channel", "commerce_model", "currency")
    list_filter = ("purchase_channel", "commerce_model", "country")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [SubscriptionInline]
    actions = ["turn_off_post_usage_auto_recharge"]

    @admin.action(description="Turn off auto-recharge for selected NCE/MCA organizations")
    def turn_off_post_usage_auto_recharge(self, request, queryset):
        count = services.turn_off_auto_recharge_for_post_usage_billing(actor=request.user, organizations=queryset)
        self.message_user(request, f"Auto-recharge turned off for {count} organization(s).")


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "capability", "included_minutes", "minutes_pooled", "includes_international")
    list_filter = ("kind",)
    search_fields = ("name", "code", "capability")


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ("organization", "product", "quantity")
    list_filter = ("product",)
    search_fields = ("organization__name",)


class MoneyMoveForm(forms.Form):
    KIND_CHOICES = [("adjustment", "Support adjustment (credit or debit)"), ("refund", "Refund (credits leave the balance)")]
    kind = forms.ChoiceField(choices=KIND_CHOICES)
    amount = forms.DecimalField(max_digits=12, decimal_places=2, help_text="Negative for a debit adjustment.")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), help_text="Required; kept in the ledger.")
    # One key per rendered form: a double-clicked or re-posted form posts one entry.
    key = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)


class NonBlankValuesFilter(admin.AllValuesFieldListFilter):
    """The values a text field takes, without the blank one: Django lists it as a link with no text,
    which a screen reader cannot name. (Rows with a blank value are found by another filter: a
    payment's status, a payment method's kind.)"""

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        self.lookup_choices = self.lookup_choices.exclude(**{field.name: ""})


class PausedFilter(admin.SimpleListFilter):
    title = "auto-recharge state"
    parameter_name = "recharge_state"

    def lookups(self, request, model_admin):
        return [("paused", "Paused"), ("due", "Below the trigger"), ("failing", "Failing (not paused yet)")]

    def queryset(self, request, queryset):
        if self.value() == "paused":
            return queryset.filter(auto_recharge_state__paused_at__isnull=False)
        if self.value() == "due":
            return queryset.filter(auto_recharge_state__due_since__isnull=False)
        if self.value() == "failing":
            return queryset.filter(
                auto_recharge_state__consecutive_failures__gt=0, auto_recharge_state__paused_at__isnull=True
            )
        return queryset


class AutoRechargePolicyInline(ReadOnlyMixin, admin.StackedInline):
    """Settings change through the tenant's page (audited); support reads them here."""

    model = AutoRechargePolicy
    fields = ("enabled", "amount", "trigger", "payment_method", "monthly_cap")
    readonly_fields = fields


class AutoRechargeStateInline(ReadOnlyMixin, admin.StackedInline):
    model = AutoRechargeState
    fields = (
        "crossing",
        "due_since",
        "retry_at",
        "paused_at",
        "paused_reason",
        "resumed_at",
        "consecutive_failures",
        "monthly_cap_reached_at",
        "card_expiry_warned_for",
        "updated_at",
    )
    readonly_fields = fields


@admin.register(CreditAccount)
class CreditAccountAdmin(admin.ModelAdmin):
    list_display = ("organization", "balance", "currency", "auto_recharge_enabled", "recharge_state", "depleted_at")
    list_filter = ("auto_recharge_policy__enabled", PausedFilter, "currency")
    search_fields = ("organization__name",)
    list_select_related = ("organization", "auto_recharge_policy", "auto_recharge_state")
    actions = ["resume_auto_recharge", "spend_demo_credits"]
    readonly_fields = ("organization", "currency", "balance", "depleted_at", "updated_at")
    fields = readonly_fields
    inlines = [AutoRechargePolicyInline, AutoRechargeStateInline]

    @admin.display(description="Auto-recharge on", boolean=True)
    def auto_recharge_enabled(self, obj):
        return obj.auto_recharge_policy.enabled

    @admin.display(description="Auto-recharge")
    def recharge_state(self, obj):
        return selectors.auto_recharge_summary(obj)

    def has_resume_permission(self, request):
        return request.user.has_perm("billing.resume_auto_recharge")

    @admin.action(description="Resume paused auto-recharge", permissions=["resume"])
    def resume_auto_recharge(self, request, queryset):
        resumed = 0
        for account_id in queryset.values_list("pk", flat=True):
            resumed += resume_auto_recharge(
                account_id=account_id, actor=request.user, reason=f"Resumed by support ({request.user.get_username()})."
            )
        skipped = queryset.count() - resumed
        self.message_user(
            request,
            f"Auto-recharge resumed for {resumed} account(s)" + (f"; {skipped} were not paused." if skipped else "."),
        )

    def has_spend_demo_permission(self, request):
        # A demo tool: only where DEBUG is on (make run), and only for staff who may post ledger entries.
        return settings.DEBUG and request.user.has_perm("billing.add_ledgerentry")

    @admin.action(description="Demo: spend credits to fall below the trigger", permissions=["spend_demo"])
    def spend_demo_credits(self, request, queryset):
        for account in queryset:
            entry = spend_demo_credits(account.pk)
            self.message_user(
                request,
                f"{account}: spent {-entry.amount}; the balance is now {entry.balance_after}. Auto-recharge, if on, "
                "follows within a minute.",
            )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Settings change through the tenant's page (audited); support acts through the actions below.
        return False

    def get_urls(self):
        return [
            path("<int:pk>/move-money/", self.admin_site.admin_view(self.move_money), name="billing_creditaccount_move_money"),
            path("reconciliation/", self.admin_site.admin_view(self.reconciliation), name="billing_creditaccount_reconciliation"),
        ] + super().get_urls()

    def move_money(self, request, pk):
        if not request.user.has_perm("billing.add_ledgerentry"):
            messages.error(request, "You need the permission to post ledger entries.")
            return redirect(reverse("admin:billing_creditaccount_change", args=[pk]))
        account = CreditAccount.objects.select_related("organization").get(pk=pk)
        form = MoneyMoveForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                if data["kind"] == "refund":
                    services.refund_credits(
                        account=account, actor=request.user, amount=data["amount"], reason=data["reason"],
                        idempotency_key=f"support-refund:{data['key']}",
                    )
                else:
                    services.adjust_balance(
                        account=account, actor=request.user, amount=data["amount"], reason=data["reason"],
                        idempotency_key=f"support-adjustment:{data['key']}",
                    )
            except BillingError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                messages.success(request, "Posted to the ledger.")
                return redirect(reverse("admin:billing_creditaccount_change", args=[pk]))
        context = {**self.admin_site.each_context(request), "form": form, "account": account, "title": f"Adjust or refund: {account}"}
        return render(request, "admin/billing/move_money.html", context)

    def reconciliation(self, request):
        context = {**self.admin_site.each_context(request), "mismatches": find_mismatches(), "title": "Ledger reconciliation"}
        return render(request, "admin/billing/reconciliation.html", context)


@admin.register(CreditLot)
class CreditLotAdmin(ReadOnlyAdmin):
    list_display = ("account", "original_amount", "remaining", "purchased_at", "expires_at")
    search_fields = ("account__organization__name",)
    list_filter = ("expires_at",)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "account", "kind", "amount", "balance_after", "memo", "created_by")
    list_filter = ("kind", "created_at")
    search_fields = ("account__organization__name", "idempotency_key", "memo", "reference")
    date_hierarchy = "created_at"
    list_select_related = ("account__organization", "created_by")


@admin.register(PaymentMethod)
class PaymentMethodAdmin(ReadOnlyAdmin):
    list_display = ("organization", "kind", "masked", "created_at", "removed_at")
    list_filter = ("kind", ("brand", NonBlankValuesFilter))
    search_fields = ("organization__name", "last4", "agreement_number")
    exclude = ("gateway_token",)

    @admin.display(description="Payment method")
    def masked(self, obj):
        return obj.label


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    """Payments are the attempts: funding and auto-recharge, with their outcome and timings."""

    list_display = (
        "created_at",
        "account",
        "purpose",
        "crossing",
        "amount",
        "status",
        "reason",
        "gateway_reference",
        "gateway_calls",
        "started_at",
        "finished_at",
        "duration",
        "next_retry_at",
    )
    list_filter = ("purpose", "status", ("failure_code", NonBlankValuesFilter), "created_at")
    search_fields = ("account__organization__name", "idempotency_key", "gateway_reference")
    list_select_related = ("account__organization",)
    date_hierarchy = "created_at"
    actions = ["retry_failed_recharges"]

    @admin.display(description="Reason")
    def reason(self, obj):
        if not obj.failure_code:
            return ""
        return f"{obj.failure_message} ({obj.failure_code})"

    @admin.display(description="Took")
    def duration(self, obj):
        if obj.started_at and obj.finished_at:
            return f"{(obj.finished_at - obj.started_at).total_seconds():.2f} s"
        return ""

    def has_retry_permission(self, request):
        return request.user.has_perm("billing.retry_payment")

    @admin.action(description="Retry the selected failed auto-recharges now", permissions=["retry"])
    def retry_failed_recharges(self, request, queryset):
        for payment_id in queryset.values_list("pk", flat=True):
            outcome = retry_failed_recharge(payment_id=payment_id, actor=request.user)
            self.message_user(request, outcome.message, messages.SUCCESS if outcome.retried else messages.WARNING)


@admin.register(ReconciliationMismatch)
class ReconciliationMismatchAdmin(ReadOnlyAdmin):
    """What the periodic reconciliation found; a row is resolved when a later run no longer finds it."""

    list_display = ("first_seen_at", "account", "problem", "last_seen_at", "resolved_at")
    list_filter = (("resolved_at", admin.EmptyFieldListFilter), "first_seen_at")
    search_fields = ("account__organization__name", "code", "problem")
    list_select_related = ("account__organization",)

    def get_urls(self):
        return [
            path("run/", self.admin_site.admin_view(self.run_now), name="billing_reconciliationmismatch_run"),
        ] + super().get_urls()

    def run_now(self, request):
        if request.method != "POST" or not self.has_view_permission(request):
            return redirect(reverse("admin:billing_reconciliationmismatch_changelist"))
        found = reconcile()
        if found:
            messages.warning(request, f"Reconciliation found {len(found)} problem(s); they are listed below.")
        else:
            messages.success(request, "Every balance reconciles with its ledger, and every payment with its credit.")
        return redirect(reverse("admin:billing_reconciliationmismatch_changelist"))


@admin.register(Receipt)
class ReceiptAdmin(ReadOnlyAdmin):
    list_display = ("number", "account", "amount", "currency", "paid_with", "purchase_order", "issued_at")
    search_fields = ("number", "account__organization__name", "purchase_order")


@admin.register(AutoRechargeChange)
class AutoRechargeChangeAdmin(ReadOnlyAdmin):
    list_display = ("changed_at", "account", "changed_by", "old", "new", "reason")
    search_fields = ("account__organization__name", "changed_by__username")
    list_filter = ("changed_at",)
