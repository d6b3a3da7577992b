"""Who may do what with usage: every admin reads the report; some admins may import usage."""

from django.core.exceptions import PermissionDenied

from billing.access import AdminCenterMixin
from billing.choices import AdminRole

IMPORT_ROLES = frozenset(
    {
        AdminRole.GLOBAL_ADMINISTRATOR,
        AdminRole.BILLING_ADMINISTRATOR,
        AdminRole.TEAMS_ADMINISTRATOR,
        AdminRole.TEAMS_COMMUNICATIONS_ADMINISTRATOR,
    }
)


def can_import(tenant):
    return bool(tenant.roles & IMPORT_ROLES)


class UsageImportMixin(AdminCenterMixin):
    """Global, Billing, Teams and Teams Communications Administrators may import usage."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and request.tenant.is_admin and not can_import(request.tenant):
            raise PermissionDenied(
                "Only a Global, Billing, Teams or Teams Communications Administrator can import usage. You can view the report."
            )
        return super().dispatch(request, *args, **kwargs)
