from django.urls import path

from . import api_key_views, views

app_name = "usage"

urlpatterns = [
    path("", views.ReportView.as_view(), name="report"),
    path("sms/", views.SmsReportView.as_view(), name="sms_report"),
    path("<str:kind>/records/<int:pk>/", views.RecordView.as_view(), name="record"),
    path("<str:kind>/columns/", views.EditColumnsView.as_view(), name="edit_columns"),
    path("<str:kind>/export/", views.ExportView.as_view(), name="export_create"),
    path("downloads/", views.DownloadsView.as_view(), name="downloads"),
    path("downloads/<uuid:public_id>/", views.ExportStatusView.as_view(), name="export"),
    path("downloads/<uuid:public_id>/file/", views.ExportFileView.as_view(), name="export_file"),
    path("import/", views.ImportView.as_view(), name="import"),
    path("api-keys/", api_key_views.ApiKeysView.as_view(), name="api_keys"),
    path("api-keys/new/", api_key_views.ApiKeyCreatedView.as_view(), name="api_key_created"),
    path("api-keys/<int:pk>/revoke/", api_key_views.ApiKeyRevokeView.as_view(), name="api_key_revoke"),
    path("credits-to-buy/", views.RecommendationView.as_view(), name="recommendation"),
]
