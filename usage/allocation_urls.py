"""Billing > Your products > Communications Credits > Where the credits go, and its scheduled reports
(views of the usage app, mounted under billing's address by the site's urls, like rate_urls.py)."""

from django.urls import path

from . import allocation_views

app_name = "allocation"

urlpatterns = [
    path("", allocation_views.AllocationView.as_view(), name="report"),
    path("scheduled/", allocation_views.SubscriptionsView.as_view(), name="subscriptions"),
    path("scheduled/<int:pk>/delete/", allocation_views.DeleteSubscriptionView.as_view(), name="delete_subscription"),
]
