"""The API keys of the JSON endpoints: every admin sees the organization's keys; the roles that may
import usage create and revoke them (usage.access.ApiKeyManagerMixin). A new key is shown once."""

from datetime import datetime, timedelta

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache

from . import selectors
from .access import ApiKeyManagerMixin, can_manage_api_keys
from .api_key_forms import ApiKeyForm
from .models import ApiToken
from .services.api_keys import create_api_key, revoke_api_key

NEW_API_KEY_SESSION = "usage:new_api_key"
# The result page follows the create POST at once; a key waiting longer was never looked at.
NEW_API_KEY_LIFETIME = timedelta(minutes=10)


def hold_new_key(session, token, key):
    """Keep a new key for the result page: in the session, never in a URL."""
    session[NEW_API_KEY_SESSION] = {"token_id": token.pk, "key": key, "created_at": timezone.now().isoformat()}


def take_new_key(session):
    """The key waiting for the result page, removed from the session; {} when none, or too old to show."""
    held = session.pop(NEW_API_KEY_SESSION, None) or {}
    created_at = held.get("created_at")
    if not created_at or timezone.now() - datetime.fromisoformat(created_at) > NEW_API_KEY_LIFETIME:
        return {}
    return held


def api_endpoints(request):
    """The JSON endpoints a key opens, as absolute URLs, for the how-to on the pages."""
    return [
        {"method": "POST", "url": request.build_absolute_uri(reverse("usage_api:pstn_calls")),
         "what": "Microsoft Graph getPstnCalls pages (or rows), imported all or nothing."},
        {"method": "POST", "url": request.build_absolute_uri(reverse("usage_api:sms")),
         "what": "Microsoft Graph getSmsLog pages (or rows)."},
        {"method": "GET", "url": request.build_absolute_uri(reverse("usage_api:authorize")) + "?user=<UPN>&number=<E.164>",
         "what": "May this user call this number now, and for how many minutes."},
    ]


class ApiKeysSectionMixin(ApiKeyManagerMixin):
    """Every page of the section takes a key still waiting in the session out of it first, whatever
    the request ends in: the result page shows it, any other page drops it (the person went
    elsewhere instead of opening it, so it is not kept for later)."""

    def dispatch(self, request, *args, **kwargs):
        self.new_key = take_new_key(request.session) if request.user.is_authenticated else {}
        return super().dispatch(request, *args, **kwargs)


class ApiKeysView(ApiKeysSectionMixin, View):
    """Every admin sees the organization's keys; the roles that may import usage create them here."""

    template_name = "usage/api_keys.html"
    open_to_every_admin = ("get", "head", "options")

    def get(self, request):
        return self.render(request, ApiKeyForm())

    def post(self, request):
        form = ApiKeyForm(request.POST)
        if not form.is_valid():
            return self.render(request, form, status=400)
        token, key = create_api_key(organization=self.organization, name=form.cleaned_data["name"], actor=request.user)
        hold_new_key(request.session, token, key)
        messages.success(request, f"API key “{token.name}” created.")
        return redirect("usage:api_key_created")

    def render(self, request, form, status=200):
        can_manage = can_manage_api_keys(request.tenant)
        context = {
            "tokens": selectors.organization_keys(self.organization),
            "form": form if can_manage else None,
            "can_manage": can_manage,
            "endpoints": api_endpoints(request),
        }
        return render(request, self.template_name, context, status=status)


@method_decorator(never_cache, name="dispatch")
class ApiKeyCreatedView(ApiKeysSectionMixin, View):
    """Shows a new key once; never cached, so the back button cannot bring it back either."""

    template_name = "usage/api_keys_created.html"

    def get(self, request):
        # Only a key of the current organization (the person may have switched organization since).
        token = selectors.organization_keys(self.organization).filter(pk=self.new_key.get("token_id")).first()
        context = {"token": token, "key": self.new_key.get("key") if token else None, "endpoints": api_endpoints(request)}
        return render(request, self.template_name, context)


class ApiKeyRevokeView(ApiKeysSectionMixin, View):
    """A confirmation page, then a POST that revokes; revoking twice changes nothing."""

    template_name = "usage/api_keys_revoke.html"

    def get(self, request, pk):
        try:
            token = selectors.organization_keys(self.organization).get(pk=pk)
        except ApiToken.DoesNotExist:
            raise Http404("No such API key in this organization.") from None
        return render(request, self.template_name, {"token": token})

    def post(self, request, pk):
        try:
            token, newly_revoked = revoke_api_key(organization=self.organization, token_id=pk, actor=request.user)
        except ApiToken.DoesNotExist:
            raise Http404("No such API key in this organization.") from None
        if newly_revoked:
            messages.success(request, f"API key “{token.name}” revoked: the endpoints refuse it from now on.")
        else:
            messages.info(request, f"API key “{token.name}” was already revoked on {token.revoked_at:%Y-%m-%d %H:%M} UTC.")
        return redirect("usage:api_keys")
