"""The organization's API keys."""

from ..models import ApiToken


def organization_keys(organization):
    """The organization's API keys, newest first. Every lookup of a key by id goes through this, so
    another organization's key is simply not found."""
    return ApiToken.objects.filter(organization=organization).select_related("created_by")
