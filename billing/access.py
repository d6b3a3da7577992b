"""Who may do what in the admin center. Shared by every tenant view: never repeated inline."""

from dataclasses import dataclass, field

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db.models import StringAgg, Value

from .choices import BILLING_MANAGER_ROLES, AdminRole
from .models import Membership

SESSION_KEY = "organization_id"


@dataclass
class TenantContext:
    """The signed-in person's organization and roles there; every tenant query is scoped to it."""

    organization: object = None
    membership: object = None
    roles: frozenset = field(default_factory=frozenset)
    memberships: list = field(default_factory=list)

    @property
    def is_admin(self):
        return bool(self.roles)

    @property
    def can_manage_billing(self):
        return bool(self.roles & BILLING_MANAGER_ROLES)

    @property
    def role_labels(self):
        return sorted(AdminRole(r).label for r in self.roles)


def resolve_tenant(request) -> TenantContext:
    user = request.user
    if not user.is_authenticated:
        return TenantContext()
    # One query on every page: the roles come joined as one string rather than by a second query.
    memberships = list(
        Membership.objects.filter(user=user)
        .select_related("organization")
        .annotate(role_codes=StringAgg("roles__role", Value(","), default=""))
        .order_by("organization__name")
    )
    if not memberships:
        return TenantContext()
    wanted = request.session.get(SESSION_KEY)
    # Without a choice yet, start where the person is an admin rather than where they are not.
    default = next((m for m in memberships if m.role_codes), memberships[0])
    current = next((m for m in memberships if m.organization_id == wanted), default)
    return TenantContext(
        organization=current.organization,
        membership=current,
        roles=frozenset(code for code in current.role_codes.split(",") if code),
        memberships=memberships,
    )


class AdminCenterMixin(LoginRequiredMixin):
    """Signed in, and an admin role in the current organization; otherwise 403 with the reason."""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not request.tenant.is_admin:
            raise PermissionDenied(
                "You need an admin role in an organization to open the admin center. Ask your Global "
                "Administrator to assign you one."
            )
        self.organization = request.tenant.organization
        return super().dispatch(request, *args, **kwargs)


class BillingManagerMixin(AdminCenterMixin):
    """Global or Billing Administrators only: buying credits, payment methods, auto-recharge."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and request.tenant.is_admin and not request.tenant.can_manage_billing:
            raise PermissionDenied(
                "Only a Global Administrator or a Billing Administrator can change billing. You can view it."
            )
        return super().dispatch(request, *args, **kwargs)
