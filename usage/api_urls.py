from django.urls import path

from . import api, openapi

app_name = "usage_api"

urlpatterns = [
    path("pstn-calls/", api.IngestView.as_view(), name="pstn_calls"),
    path("sms/", api.SmsIngestView.as_view(), name="sms"),
    path("authorize/", api.AuthorizeView.as_view(), name="authorize"),
    path("rate-lookup/", api.RateLookupView.as_view(), name="rate_lookup"),
    path("openapi.json", openapi.openapi_schema, name="openapi"),
]
