"""The incidents of spike detection and the calls each is about, scoped to one organization."""

from django.db.models import Q
from django.shortcuts import get_object_or_404

from ..choices import Direction
from ..models import CallRecord, Incident, IncidentStatus


def incidents_of(organization, status=""):
    rows = Incident.objects.filter(organization=organization).select_related("resolved_by")
    if status in IncidentStatus.values:
        rows = rows.filter(status=status)
    return rows.order_by("-detected_at", "-pk")


def open_incident_count(organization) -> int:
    return Incident.objects.filter(organization=organization, status=IncidentStatus.OPEN).count()


def incident_of(organization, pk) -> Incident:
    """The organization's incident, or 404 (another tenant's id answers 404 too)."""
    return get_object_or_404(Incident.objects.select_related("person", "resolved_by"), organization=organization, pk=pk)


def incident_calls(incident):
    """The outbound calls the incident is about: in its window, by its person (through the
    (organization, person, start time) index) and to its country when it names them."""
    calls = CallRecord.objects.filter(
        organization_id=incident.organization_id,
        start_time__gte=incident.window_start,
        start_time__lt=incident.window_end,
        direction=Direction.OUTBOUND,
    )
    if incident.person_id:
        calls = calls.filter(person_id=incident.person_id)
    elif incident.country:
        calls = calls.filter(Q(external_country=incident.country))
    return calls.order_by("start_time", "pk")
