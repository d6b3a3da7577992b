"""Billing > Your products > Communications Credits > Spend guard (views of the usage app, mounted under
the billing address by the site's urls, like rate_urls)."""

from django.urls import path

from . import guard_views

app_name = "guard"

urlpatterns = [
    path("", guard_views.GuardView.as_view(), name="home"),
    path("audit/", guard_views.AuditView.as_view(), name="audit"),
    path("policy/", guard_views.PolicyView.as_view(), name="policy"),
    path("overrides/add/", guard_views.OverrideAddView.as_view(), name="override_add"),
    path("overrides/<int:pk>/", guard_views.OverrideEditView.as_view(), name="override_edit"),
    path("overrides/<int:pk>/remove/", guard_views.OverrideDeleteView.as_view(), name="override_delete"),
    path("rules/add/", guard_views.RuleAddView.as_view(), name="rule_add"),
    path("rules/<int:pk>/", guard_views.RuleView.as_view(), name="rule"),
    path("rules/restore-defaults/", guard_views.RestoreDefaultsView.as_view(), name="restore_defaults"),
    path("blocks/add/", guard_views.BlockAddView.as_view(), name="block_add"),
    path("blocks/<int:pk>/lift/", guard_views.BlockLiftView.as_view(), name="block_lift"),
]
