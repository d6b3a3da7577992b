from django.urls import path

from . import views

app_name = "notifications"

urlpatterns = [
    path("", views.MessageCenterView.as_view(), name="message_center"),
    path("<int:pk>/", views.EventDetailView.as_view(), name="event"),
    path("settings/", views.NotificationSettingsView.as_view(), name="settings"),
    path("settings/thresholds/", views.AddThresholdView.as_view(), name="add_threshold"),
    path("settings/thresholds/<int:pk>/remove/", views.RemoveThresholdView.as_view(), name="remove_threshold"),
]
