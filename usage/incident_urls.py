"""Billing > Your products > Communications Credits > Spend guard > Incidents (views of the usage app,
mounted under billing's address by the site's urls)."""

from django.urls import path

from . import incident_views

app_name = "incidents"

urlpatterns = [
    path("", incident_views.IncidentListView.as_view(), name="list"),
    path("<int:pk>/", incident_views.IncidentView.as_view(), name="detail"),
    path("<int:pk>/block-person/", incident_views.IncidentActionView.as_view(action="block_person"), name="block_person"),
    path("<int:pk>/block-destination/", incident_views.IncidentActionView.as_view(action="block_destination"), name="block_destination"),
    path("<int:pk>/dismiss/", incident_views.IncidentActionView.as_view(action="dismiss"), name="dismiss"),
]
