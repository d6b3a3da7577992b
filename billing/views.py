"""Billing pages. Thin: read the form, call one service, turn domain errors into form errors."""

import uuid

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core import signing
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.generic import TemplateView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from credits_site.streaming import csv_download

from . import selectors, services
from .access import SESSION_KEY, AdminCenterMixin, BillingManagerMixin
from .exceptions import BillingError, PurchaseBlocked
from .filters import LedgerEntryFilter
from .forms import AddCardForm, AddFundsForm, AgreementForm, AutoRechargeForm
from .models import Payment, PaymentMethod, Receipt
from .money import format_money
from .rules import purchase_blockers
from .services.auto_recharge.policy import validate_auto_recharge
from .tables import LedgerEntryTable, StreamedQuerysetData

CONFIRM_SALT = "billing.add-funds.confirm"
CONFIRM_MAX_AGE = 30 * 60


class HomeView(AdminCenterMixin, TemplateView):
    template_name = "billing/home.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(overview=selectors.credits_overview(self.organization), **kwargs)


class ProductsView(AdminCenterMixin, TemplateView):
    template_name = "billing/products.html"

    def get_context_data(self, **kwargs):
        account = selectors.credit_account(self.organization)
        return super().get_context_data(
            subscriptions=selectors.organization_subscriptions(self.organization), account=account, **kwargs
        )


class CreditsView(AdminCenterMixin, TemplateView):
    template_name = "billing/credits.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(overview=selectors.credits_overview(self.organization), **kwargs)


class AddFundsView(BillingManagerMixin, View):
    """Step 1: amount and payment method. Step 2 (same URL, POST with `confirm`): the money moves."""

    def blocked(self, request, blockers):
        return render(request, "billing/purchase_blocked.html", {"blockers": blockers}, status=403)

    def get(self, request):
        blockers = purchase_blockers(self.organization)
        if blockers:
            return self.blocked(request, blockers)
        return self.show_form(request, self.form())

    def form(self, data=None):
        return AddFundsForm(data, payment_methods=selectors.active_payment_methods(self.organization))

    def show_form(self, request, form, status=200):
        overview = selectors.credits_overview(self.organization)
        return render(request, "billing/add_funds.html", {"form": form, "overview": overview}, status=status)

    def post(self, request):
        blockers = purchase_blockers(self.organization)
        if blockers:
            return self.blocked(request, blockers)
        if "token" in request.POST:
            return self.confirm(request)
        form = self.form(request.POST)
        if not form.is_valid():
            return self.show_form(request, form, status=400)
        data = form.cleaned_data
        payload = {
            "amount": str(data["amount"]),
            "payment_method": data["payment_method"].pk,
            "purchase_order": data["purchase_order"].strip(),
            "key": f"funding:{uuid.uuid4()}",
            "organization": self.organization.pk,
        }
        token = signing.dumps(payload, salt=CONFIRM_SALT)
        account = selectors.credit_account(self.organization)
        return render(
            request,
            "billing/add_funds_confirm.html",
            {
                "token": token,
                "amount": format_money(data["amount"], account.currency),
                "new_balance": format_money(account.balance + data["amount"], account.currency),
                "payment_method": data["payment_method"],
                "purchase_order": payload["purchase_order"],
            },
        )

    def confirm(self, request):
        try:
            payload = signing.loads(request.POST["token"], salt=CONFIRM_SALT, max_age=CONFIRM_MAX_AGE)
        except signing.SignatureExpired:
            messages.error(request, "The confirmation expired after 30 minutes. Nothing was charged; start again.")
            return redirect("billing:add_funds")
        except signing.BadSignature:
            messages.error(request, "The confirmation could not be read. Nothing was charged; start again.")
            return redirect("billing:add_funds")
        if payload.get("organization") != self.organization.pk:
            raise Http404("No such purchase in this organization.")
        method = get_object_or_404(selectors.active_payment_methods(self.organization), pk=payload["payment_method"])
        try:
            payment = services.fund_credits(
                organization=self.organization,
                actor=request.user,
                amount=payload["amount"],
                payment_method=method,
                idempotency_key=payload["key"],
                purchase_order=payload["purchase_order"],
            )
        except PurchaseBlocked as blocked:
            return self.blocked(request, blocked.blockers)
        except BillingError as error:
            messages.error(request, error.message)
            return redirect("billing:add_funds")
        return redirect("billing:payment", key=payment.idempotency_key)


class PaymentView(AdminCenterMixin, TemplateView):
    template_name = "billing/payment.html"

    def get_context_data(self, **kwargs):
        try:
            payment = selectors.payment_for(self.organization, self.kwargs["key"])
        except Payment.DoesNotExist:
            raise Http404("No such payment in this organization.") from None
        reason, fix = services.payments.failure_explanation(payment)
        receipt = getattr(payment.entry, "receipt", None) if payment.entry_id else None
        return super().get_context_data(payment=payment, receipt=receipt, reason=reason, fix=fix, **kwargs)


class ReceiptView(AdminCenterMixin, TemplateView):
    template_name = "billing/receipt.html"

    def get_context_data(self, **kwargs):
        try:
            receipt = selectors.receipt_for(self.organization, self.kwargs["number"])
        except Receipt.DoesNotExist:
            raise Http404("No such receipt in this organization.") from None
        return super().get_context_data(receipt=receipt, **kwargs)


class AutoRechargeView(BillingManagerMixin, View):
    template_name = "billing/auto_recharge.html"

    def form(self, data=None):
        policy = selectors.credit_account(self.organization).auto_recharge_policy
        initial = {
            "enabled": policy.enabled,
            "recharge_amount": policy.amount,
            "recharge_trigger": policy.trigger,
            "payment_method": policy.payment_method_id,
            "monthly_cap": policy.monthly_cap,
        }
        return AutoRechargeForm(data, initial=initial, cards=selectors.card_payment_methods(self.organization))

    def render_form(self, request, form, status=200, confirm_charge=False):
        overview = selectors.credits_overview(self.organization)
        context = {"form": form, "overview": overview, "confirm_charge": confirm_charge}
        return render(request, self.template_name, context, status=status)

    def get(self, request):
        return self.render_form(request, self.form())

    def post(self, request):
        form = self.form(request.POST)
        if not form.is_valid():
            return self.render_form(request, form, status=400)
        data = form.cleaned_data
        balance_before = selectors.credit_account(self.organization).balance
        settings_are_valid = not validate_auto_recharge(
            enabled=data["enabled"], amount=data["recharge_amount"], trigger=data["recharge_trigger"],
            payment_method=data["payment_method"], monthly_cap=data["monthly_cap"],
        )
        will_charge_now = (
            settings_are_valid and data["enabled"] and balance_before < data["recharge_trigger"]
        )
        if will_charge_now and not request.POST.get("confirm_charge") and not purchase_blockers(self.organization):
            # Money would move on Save: say so and ask first.
            return self.render_form(request, form, confirm_charge=True)
        try:
            services.update_auto_recharge(
                organization=self.organization,
                actor=request.user,
                enabled=data["enabled"],
                amount=data["recharge_amount"],
                trigger=data["recharge_trigger"],
                payment_method=data["payment_method"],
                monthly_cap=data["monthly_cap"],
            )
        except PurchaseBlocked as blocked:
            form.add_error("enabled", f"{blocked.blockers[0].reason} {blocked.blockers[0].way_forward}")
            return self.render_form(request, form, status=400)
        except BillingError as error:
            for field, message in getattr(error, "errors", {error.field: error.message}).items():
                form.add_error(field if field in form.fields else None, message)
            return self.render_form(request, form, status=400)
        messages.success(request, "Auto recharge settings saved.")
        account = selectors.credit_account(self.organization)
        policy, state = account.auto_recharge_policy, account.auto_recharge_state
        charged_now = account.balance > balance_before
        if charged_now or (policy.enabled and state.due_since):
            trigger, amount = format_money(policy.trigger, account.currency), format_money(policy.amount, account.currency)
            what = "was charged right away. The receipt is below." if charged_now else "is being charged now."
            verb = "was" if charged_now else "is"
            messages.info(request, f"The balance {verb} below {trigger}, so a recharge of {amount} {what}")
        return redirect("billing:credits")


class TurnOffAutoRechargeView(BillingManagerMixin, View):
    def post(self, request):
        services.turn_off_auto_recharge(organization=self.organization, actor=request.user)
        messages.success(request, "Auto recharge is off. No automatic top-up will be charged.")
        return redirect("billing:credits")


@method_decorator(sensitive_post_parameters("number", "cvc"), name="dispatch")
class AddCardView(BillingManagerMixin, View):
    template_name = "billing/add_card.html"

    def get(self, request):
        return render(request, self.template_name, {"form": AddCardForm(), "next": safe_next(request, "GET")})

    @method_decorator(sensitive_variables())
    def post(self, request):
        form = AddCardForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                method = services.add_card(
                    organization=self.organization,
                    actor=request.user,
                    number=data["number"],
                    exp_month=data["exp_month"],
                    exp_year=data["exp_year"],
                    cvc=data["cvc"],
                )
            except BillingError as error:
                form.add_error("number", error.message)
            else:
                messages.success(request, f"{method.label} was added.")
                return redirect(safe_next(request, "POST") or reverse("billing:credits"))
        # Never send the number back to the browser.
        form.data = form.data.copy()
        form.data["number"] = ""
        form.data["cvc"] = ""
        return render(request, self.template_name, {"form": form, "next": safe_next(request, "POST")}, status=400)


def safe_next(request, method):
    target = getattr(request, method).get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return ""


class AddAgreementView(BillingManagerMixin, View):
    template_name = "billing/add_agreement.html"

    def get(self, request):
        return render(request, self.template_name, {"form": AgreementForm()})

    def post(self, request):
        form = AgreementForm(request.POST)
        if form.is_valid():
            try:
                services.add_enterprise_agreement(
                    organization=self.organization, actor=request.user, agreement_number=form.cleaned_data["agreement_number"]
                )
            except BillingError as error:
                form.add_error("agreement_number", error.message)
            else:
                messages.success(request, "The enterprise agreement was added.")
                return redirect("billing:credits")
        return render(request, self.template_name, {"form": form}, status=400)


class RemovePaymentMethodView(BillingManagerMixin, View):
    def post(self, request, pk):
        method = get_object_or_404(PaymentMethod, pk=pk, organization=self.organization, removed_at__isnull=True)
        try:
            services.remove_payment_method(organization=self.organization, actor=request.user, payment_method=method)
        except BillingError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"{method.label} was removed.")
        return redirect("billing:credits")


class TransactionsView(AdminCenterMixin, SingleTableMixin, FilterView):
    table_class = LedgerEntryTable
    filterset_class = LedgerEntryFilter
    template_name = "billing/transactions.html"
    # Paged by the table only (not the view too: that paged the same rows again, with a COUNT of its own).
    table_pagination = {"per_page": 25}

    def get_queryset(self):
        return selectors.ledger_entries(self.organization)

    def get(self, request, *args, **kwargs):
        if request.GET.get("export") == "csv":
            return self.export_csv()
        return super().get(request, *args, **kwargs)

    def export_csv(self):
        """The filtered transactions as CSV: the table's own columns, headings and values
        (Table.as_values), streamed from the database a chunk at a time."""
        filterset = self.filterset_class(self.request.GET, queryset=self.get_queryset(), request=self.request)
        rows = filterset.qs if filterset.is_valid() else self.get_queryset().none()
        table = self.table_class(StreamedQuerysetData(rows, chunk_size=2000))
        return csv_download(table.as_values(), "communications-credits-transactions.csv")


class SwitchOrganizationView(LoginRequiredMixin, View):
    """Open to every member: someone without a role here may be an admin in their other organization."""

    def post(self, request):
        try:
            wanted = int(request.POST.get("organization", ""))
        except ValueError:
            raise Http404("No such organization.") from None
        if not any(m.organization_id == wanted for m in request.tenant.memberships):
            raise Http404("No such organization.")
        request.session[SESSION_KEY] = wanted
        return redirect("home")
