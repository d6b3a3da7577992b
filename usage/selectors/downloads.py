"""The organization's exports, as Downloads lists them."""

from ..models import Export


def exports_for(organization):
    return Export.objects.filter(organization=organization).select_related("created_by")


def live_exports(organization, now):
    return exports_for(organization).filter(expires_at__gt=now)
