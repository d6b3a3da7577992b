"""Who may do what with usage: every admin reads the report and the API keys; some admins may
import usage, and the same admins create and revoke API keys."""

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


def can_manage_api_keys(tenant):
    # A key imports usage, so the roles that may import usage are the ones that may hand out keys.
    return can_import(tenant)


class UsageImportMixin(AdminCenterMixin):
    """Global, Billing, Teams and Teams Communications Administrators may import usage."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and request.tenant.is_admin and not can_import(request.tenant):
            raise PermissionDenied(
                "Only a Global, Billing, Teams or Teams Communications Administrator can import usage. You can view the report."
            )
        return super().dispatch(request, *args, **kwargs)


class ApiKeyManagerMixin(AdminCenterMixin):
    """Global, Billing, Teams and Teams Communications Administrators create and revoke API keys.

    A view names in `open_to_every_admin` the HTTP methods that every admin may use (reading the
    list); every other method needs one of those roles.
    """

    open_to_every_admin = ()

    def dispatch(self, request, *args, **kwargs):
        if (
            request.user.is_authenticated
            and request.tenant.is_admin
            and request.method.lower() not in self.open_to_every_admin
            and not can_manage_api_keys(request.tenant)
        ):
            raise PermissionDenied(
                "Only a Global, Billing, Teams or Teams Communications Administrator can create or revoke API keys. "
                "You can view the list."
            )
        return super().dispatch(request, *args, **kwargs)
