"""Billing > Your products > Communications Credits > Spend guard: the caps, the destination rules
(defaults marked, liftable), the credit blocks in force (lift with confirmation) and the audit log.
Every admin sees them; only the roles that may change billing (BillingManagerMixin) change them.
Another organization's rule, override or block id answers 404. Thin: forms read, services write."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views import View

from billing.access import AdminCenterMixin, BillingManagerMixin

from .guard_forms import BlockForm, OverrideForm, PolicyForm, RuleForm
from .models import Person
from .selectors import guard as selectors
from .services import guard as services
from .spend_guard import CreditBlock, DestinationRule, GuardScope, SpendPolicy


def _errors_to_form(form, error):
    for field, message in error.errors.items():
        form.add_error(field if field in form.fields else None, message)


def _object_or_404(queryset, pk, what):
    found = queryset.filter(pk=pk).first()
    if found is None:
        raise Http404(f"No such {what} in this organization.")
    return found


class GuardView(AdminCenterMixin, View):
    def get(self, request):
        page = selectors.guard_page(self.organization)
        return render(request, "usage/guard/home.html", {"page": page, "can_change": request.tenant.can_manage_billing})


class AuditView(AdminCenterMixin, View):
    def get(self, request):
        paginator = Paginator(selectors.changes(self.organization), 50)
        changes = paginator.get_page(request.GET.get("page"))
        return render(request, "usage/guard/audit.html", {"changes": changes})


class PolicyView(BillingManagerMixin, View):
    template_name = "usage/guard/policy.html"

    def get(self, request):
        policy = selectors.organization_policy(self.organization)
        initial = {}
        if policy is not None:
            initial = {
                "call_cap": policy.call_cap, "person_day_cap": policy.person_day_cap,
                "organization_day_cap": policy.organization_day_cap, "cap_action": policy.cap_action or "warn",
            }
        return render(request, self.template_name, {"form": PolicyForm(initial=initial)})

    def post(self, request):
        form = PolicyForm(request.POST)
        if form.is_valid():
            try:
                services.save_policy(self.organization, actor=request.user, scope=GuardScope.ORGANIZATION, **form.cleaned_data)
            except services.GuardError as error:
                _errors_to_form(form, error)
            else:
                messages.success(request, "Spend policy saved.")
                return redirect("guard:home")
        return render(request, self.template_name, {"form": form}, status=400)


class OverrideFormMixin(BillingManagerMixin):
    template_name = "usage/guard/override.html"

    def make_form(self, data=None, initial=None, fixed_scope=False):
        return OverrideForm(
            data, initial=initial, fixed_scope=fixed_scope, people=selectors.people_choices(self.organization),
            departments=selectors.department_choices(self.organization),
        )

    def show(self, request, form, status=200, override=None):
        return render(request, self.template_name, {"form": form, "override": override}, status=status)

    def save(self, request, form, override=None):
        data = form.cleaned_data
        person = services.person_of(self.organization, data.get("person")) if data.get("scope") == GuardScope.PERSON else None
        try:
            services.save_policy(
                self.organization, actor=request.user, scope=data["scope"], department=data.get("department", ""), person=person,
                call_cap=data.get("call_cap"), person_day_cap=data.get("person_day_cap"), cap_action=data.get("cap_action", ""),
            )
        except services.GuardError as error:
            _errors_to_form(form, error)
            return self.show(request, form, status=400, override=override)
        messages.success(request, "Override saved.")
        return redirect("guard:home")


class OverrideAddView(OverrideFormMixin, View):
    def get(self, request):
        return self.show(request, self.make_form())

    def post(self, request):
        form = self.make_form(request.POST)
        if not form.is_valid():
            return self.show(request, form, status=400)
        return self.save(request, form)


class OverrideEditView(OverrideFormMixin, View):
    def initial(self, override):
        return {
            "scope": override.scope, "department": override.department, "person": override.person_id,
            "call_cap": override.call_cap, "person_day_cap": override.person_day_cap, "cap_action": override.cap_action,
        }

    def get(self, request, pk):
        override = _object_or_404(selectors.overrides(self.organization), pk, "override")
        return self.show(request, self.make_form(initial=self.initial(override), fixed_scope=True), override=override)

    def post(self, request, pk):
        override = _object_or_404(selectors.overrides(self.organization), pk, "override")
        form = self.make_form(request.POST, initial=self.initial(override), fixed_scope=True)
        if not form.is_valid():
            return self.show(request, form, status=400, override=override)
        return self.save(request, form, override=override)


class OverrideDeleteView(BillingManagerMixin, View):
    def get(self, request, pk):
        override = _object_or_404(selectors.overrides(self.organization), pk, "override")
        return render(request, "usage/guard/confirm.html", {
            "title": "Remove override", "object_label": f"Override for {override.scope_label}",
            "warning": "The organization's (or the department's) caps apply again.", "button": "Remove override",
        })

    def post(self, request, pk):
        _object_or_404(selectors.overrides(self.organization), pk, "override")
        try:
            services.delete_policy(self.organization, pk, actor=request.user)
        except SpendPolicy.DoesNotExist:
            raise Http404("No such override in this organization.") from None
        messages.success(request, "Override removed.")
        return redirect("guard:home")


class RuleAddView(BillingManagerMixin, View):
    template_name = "usage/guard/rule.html"

    def make_form(self, data=None):
        return RuleForm(data, people=selectors.people_choices(self.organization))

    def get(self, request):
        return render(request, self.template_name, {"form": self.make_form(), "departments": selectors.department_choices(self.organization)})

    def post(self, request):
        form = self.make_form(request.POST)
        if form.is_valid():
            data = dict(form.cleaned_data)
            data["person"] = services.person_of(self.organization, data.get("person")) if data.get("scope") == GuardScope.PERSON else None
            try:
                services.create_rule(self.organization, actor=request.user, **data)
            except services.GuardError as error:
                _errors_to_form(form, error)
            else:
                messages.success(request, "Destination rule added.")
                return redirect("guard:home")
        return render(request, self.template_name, {"form": form, "departments": selectors.department_choices(self.organization)}, status=400)


class RuleView(BillingManagerMixin, View):
    """One rule, with what may be done to it: lift, apply again, delete (an admin's own rule)."""

    ACTIONS = {"lift": services.lift_rule, "apply": services.apply_rule, "delete": services.delete_rule}

    def get(self, request, pk):
        rule = _object_or_404(selectors.rules(self.organization), pk, "rule")
        return render(request, "usage/guard/rule_detail.html", {"rule": rule})

    def post(self, request, pk):
        rule = _object_or_404(selectors.rules(self.organization), pk, "rule")
        action = request.POST.get("action", "")
        change = self.ACTIONS.get(action)
        if change is None:
            return render(request, "usage/guard/rule_detail.html", {"rule": rule, "error": "Choose what to do with the rule."}, status=400)
        try:
            change(self.organization, pk, actor=request.user)
        except DestinationRule.DoesNotExist:
            raise Http404("No such rule in this organization.") from None
        except services.GuardError as error:
            return render(request, "usage/guard/rule_detail.html", {"rule": rule, "error": " ".join(error.errors.values())}, status=400)
        done = {"lift": "lifted: it no longer applies", "apply": "applied again", "delete": "deleted"}[action]
        messages.success(request, f"Rule {done}.")
        return redirect("guard:home")


class RestoreDefaultsView(BillingManagerMixin, View):
    def get(self, request):
        return render(request, "usage/guard/confirm.html", {
            "title": "Restore the default rules", "object_label": "Default destination rules",
            "warning": "Every lifted default rule (premium-rate numbers, high-risk prefixes) applies again; your own rules stay as they are.",
            "button": "Restore defaults",
        })

    def post(self, request):
        changed = services.restore_defaults(self.organization, actor=request.user)
        messages.success(request, f"{changed} default rule(s) restored." if changed else "Every default rule already applies.")
        return redirect("guard:home")


class BlockAddView(BillingManagerMixin, View):
    template_name = "usage/guard/block.html"

    def make_form(self, data=None):
        return BlockForm(data, initial={"person": self.request.GET.get("person")}, people=selectors.people_choices(self.organization))

    def get(self, request):
        return render(request, self.template_name, {"form": self.make_form()})

    def post(self, request):
        form = self.make_form(request.POST)
        if form.is_valid():
            person = Person.objects.filter(organization=self.organization, pk=form.cleaned_data["person"]).first()
            try:
                services.block_person(
                    self.organization, person, actor=request.user, reason=form.cleaned_data["reason"], until=form.cleaned_data["until"]
                )
            except services.GuardError as error:
                _errors_to_form(form, error)
            else:
                messages.success(request, f"Calls of {person.upn} are no longer charged to credits.")
                return redirect("guard:home")
        return render(request, self.template_name, {"form": form}, status=400)


class BlockLiftView(BillingManagerMixin, View):
    def get(self, request, pk):
        block = _object_or_404(selectors.blocks(self.organization), pk, "block")
        return render(request, "usage/guard/block_lift.html", {"block": block})

    def post(self, request, pk):
        try:
            block = services.lift_block(self.organization, pk, actor=request.user)
        except CreditBlock.DoesNotExist:
            raise Http404("No such block in this organization.") from None
        messages.success(request, f"Block lifted: calls of {block.who} are charged to credits again.")
        return redirect("guard:home")
