from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from billing.views import HomeView, SwitchOrganizationView
from credits_site import health

admin.site.site_header = "Communications Credits support"
admin.site.site_title = "Credits support"

urlpatterns = [
    path("", HomeView.as_view(), name="home"),
    path("organization/switch/", SwitchOrganizationView.as_view(), name="switch_organization"),
    path("sign-in/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("sign-out/", auth_views.LogoutView.as_view(), name="logout"),
    # The rate lookup and rate table are usage's pages, under Billing > Communications Credits.
    path("billing/products/communications-credits/rates/", include("usage.rate_urls")),
    # Spike detection's incidents, under Spend guard.
    path("billing/products/communications-credits/spend-guard/incidents/", include("usage.incident_urls")),
    path("billing/products/communications-credits/spend-guard/", include("usage.guard_urls")),
    path("billing/products/communications-credits/allocation/", include("usage.allocation_urls")),
    path("billing/", include("billing.urls")),
    path("message-center/", include("notifications.urls")),
    path("reports/usage/", include("usage.urls")),
    path("api/usage/", include("usage.api_urls")),
    path("admin/", admin.site.urls),
    # For monitors and load balancers: no sign-in (see credits_site/health.py).
    path("health/", health.health, name="health"),
    path("health/ready", health.ready, name="health_ready"),
]
