"""Billing > Your products > Communications Credits > Rate lookup and Rates (views of the usage app:
billing imports nothing of usage, so the site's urls mount these under the billing address)."""

from django.urls import path

from . import rate_lookup_views

app_name = "rates"

urlpatterns = [
    path("", rate_lookup_views.RateLookupView.as_view(), name="lookup"),
    path("table/", rate_lookup_views.RateTableView.as_view(), name="table"),
]
