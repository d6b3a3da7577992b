from django.utils.functional import SimpleLazyObject

from .access import resolve_tenant


class CurrentOrganizationMiddleware:
    """Sets request.tenant: the signed-in person's current organization and roles (lazily)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.tenant = SimpleLazyObject(lambda: resolve_tenant(request))
        return self.get_response(request)
