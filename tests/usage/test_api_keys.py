"""The API keys page: who may create and revoke keys, the key shown once (and not kept when nobody
opens it), revocation through the real endpoint, tenant isolation, the name's rules, and the command
and Django admin that share the service."""

import logging
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from billing.access import SESSION_KEY
from billing.choices import AdminRole
from tests.factories import OrganizationFactory, admin_in
from usage.api_key_views import NEW_API_KEY_LIFETIME, NEW_API_KEY_SESSION
from usage.models import ApiToken
from usage.services.api_keys import create_api_key, hash_key, revoke_api_key

pytestmark = pytest.mark.django_db

KEY_MANAGER_ROLES = [
    AdminRole.GLOBAL_ADMINISTRATOR,
    AdminRole.BILLING_ADMINISTRATOR,
    AdminRole.TEAMS_ADMINISTRATOR,
    AdminRole.TEAMS_COMMUNICATIONS_ADMINISTRATOR,
]
LIST = reverse("usage:api_keys")
CREATED = reverse("usage:api_key_created")
ADMIN_ADD = reverse("admin:usage_apitoken_add")


def revoke_url(token):
    return reverse("usage:api_key_revoke", args=[token.pk])


def authorize(client, key):
    """A real request to a key-authenticated endpoint, as a script sends it."""
    return client.get(
        reverse("usage_api:authorize"),
        {"user": "alice@contoso.test", "number": "+12065550100"},
        headers={"Authorization": f"Bearer {key}"},
    )


def messages_of(response):
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def their_key(org, global_admin):
    return create_api_key(organization=org, name="Contoso forwarder", actor=global_admin)


# Creating ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", KEY_MANAGER_ROLES)
def test_an_admin_who_may_import_creates_a_key_and_sees_it_once(client, org, role):
    user = admin_in(org, role)
    client.force_login(user)
    response = client.post(LIST, {"name": "  Graph forwarder  "})
    assert response.status_code == 302 and response["Location"] == CREATED

    token = ApiToken.objects.get()
    assert (token.organization, token.name, token.created_by, token.revoked_at) == (org, "Graph forwarder", user, None)

    shown = client.get(CREATED)
    key = shown.context["key"]
    assert key.startswith(token.prefix) and hash_key(key) == token.key_hash
    html = shown.content.decode()
    assert f'value="{key}"' in html and "It is not stored and is shown only this once." in html
    assert messages_of(shown) == ["API key “Graph forwarder” created."]

    again = client.get(CREATED)
    assert again.context["key"] is None and key not in again.content.decode()
    assert "The key was shown once" in again.content.decode()
    assert key not in client.get(LIST).content.decode()


def test_the_new_key_travels_in_the_session_not_in_a_url_and_is_never_cached(client, global_admin):
    client.force_login(global_admin)
    response = client.post(LIST, {"name": "Graph forwarder"})
    held = client.session["usage:new_api_key"]["key"]
    assert held not in response["Location"]
    shown = client.get(CREATED)
    assert "no-store" in shown["Cache-Control"]
    assert "usage:new_api_key" not in client.session


def test_the_result_page_tells_how_to_use_the_key(client, global_admin):
    client.force_login(global_admin)
    client.post(LIST, {"name": "Graph forwarder"})
    html = client.get(CREATED).content.decode()
    assert "Authorization: Bearer &lt;key&gt;" in html
    for name in ("usage_api:pstn_calls", "usage_api:sms", "usage_api:authorize"):
        assert f"http://testserver{reverse(name)}" in html


def test_a_created_key_opens_the_endpoints_of_its_organization(client, global_admin, people, rates):
    client.force_login(global_admin)
    client.post(LIST, {"name": "Graph forwarder"})
    key = client.get(CREATED).context["key"]
    response = authorize(Client(), key)
    assert response.status_code == 200 and response.json()["allowed"] is True


def test_after_switching_organization_the_result_page_shows_no_key_of_the_other_one(client, org, other_org, global_admin):
    admin_in(other_org, AdminRole.GLOBAL_ADMINISTRATOR, user=global_admin)
    client.force_login(global_admin)
    session = client.session
    session[SESSION_KEY] = org.pk
    session.save()
    client.post(LIST, {"name": "Graph forwarder"})
    session = client.session
    session[SESSION_KEY] = other_org.pk
    session.save()
    response = client.get(CREATED)
    assert response.context["key"] is None and "usage:new_api_key" not in client.session


def test_the_result_page_offers_a_copy_button_and_keeps_the_field_selectable(client, global_admin):
    client.force_login(global_admin)
    client.post(LIST, {"name": "Graph forwarder"})
    html = client.get(CREATED).content.decode()
    # Read-only, not disabled: without JavaScript the key is still selected and copied by hand.
    assert 'class="key-value"' in html and " readonly " in html and "disabled" not in html and "style=" not in html
    # The button is hidden until usage.js can make it work; "Copied" is said in a live region.
    assert '<button type="button" class="button secondary" data-copy="new-key" data-copy-status="new-key-copied" hidden>Copy key</button>' in html
    assert '<span id="new-key-copied" class="copy-status" aria-live="polite"></span>' in html
    assert "/static/usage/usage.js" in html


# A key nobody opened -----------------------------------------------------------------------------


@pytest.mark.parametrize("method,page", [("get", "list"), ("get", "revoke"), ("post", "revoke")])
def test_a_key_left_waiting_is_dropped_by_the_next_page_of_the_section(client, global_admin, their_key, method, page):
    token, _ = their_key
    client.force_login(global_admin)
    client.post(LIST, {"name": "Graph forwarder"})  # the result page is never opened
    waiting = client.session[NEW_API_KEY_SESSION]["key"]

    response = getattr(client, method)(LIST if page == "list" else revoke_url(token))
    assert response.status_code in (200, 302)
    assert NEW_API_KEY_SESSION not in client.session

    later = client.get(CREATED)
    assert later.context["key"] is None and waiting not in later.content.decode()


@pytest.mark.parametrize("waited,shown", [(NEW_API_KEY_LIFETIME - timedelta(seconds=30), True), (NEW_API_KEY_LIFETIME + timedelta(seconds=1), False)])
def test_a_key_waits_for_its_result_page_only_a_short_time(client, global_admin, waited, shown):
    client.force_login(global_admin)
    client.post(LIST, {"name": "Graph forwarder"})
    session = client.session
    held = session[NEW_API_KEY_SESSION]
    held["created_at"] = (timezone.now() - waited).isoformat()
    session[NEW_API_KEY_SESSION] = held
    session.save()

    response = client.get(CREATED)
    assert (response.context["key"] == held["key"]) is shown
    assert (held["key"] in response.content.decode()) is shown
    assert NEW_API_KEY_SESSION not in client.session


@pytest.mark.parametrize(
    "name,problem",
    [
        ("", "Give the key a name, e.g. what will use it."),
        ("    ", "Give the key a name, e.g. what will use it."),
        ("x" * 101, "Use 100 characters or fewer (this name has 101)."),
    ],
)
def test_a_blank_or_too_long_name_is_refused_with_the_reason(client, global_admin, name, problem):
    client.force_login(global_admin)
    response = client.post(LIST, {"name": name})
    assert response.status_code == 400
    assert response.context["form"].errors == {"name": [problem]}
    assert problem in response.content.decode()
    assert not ApiToken.objects.exists() and "usage:new_api_key" not in client.session


def test_a_name_of_100_characters_is_taken(client, global_admin):
    client.force_login(global_admin)
    assert client.post(LIST, {"name": "x" * 100}).status_code == 302
    assert ApiToken.objects.get().name == "x" * 100


def test_creating_needs_the_csrf_token(global_admin):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(global_admin)
    assert browser.post(LIST, {"name": "Graph forwarder"}).status_code == 403
    assert not ApiToken.objects.exists()


# Revoking ----------------------------------------------------------------------------------------


def test_revoking_asks_first_then_the_endpoints_refuse_the_key(client, global_admin, their_key, people, rates):
    token, key = their_key
    assert authorize(Client(), key).status_code == 200
    client.force_login(global_admin)

    confirm = client.get(revoke_url(token))
    assert confirm.status_code == 200 and "Revoke key" in confirm.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is None  # opening the confirmation changes nothing

    response = client.post(revoke_url(token), follow=True)
    assert response.redirect_chain == [(LIST, 302)]
    assert messages_of(response) == ["API key “Contoso forwarder” revoked: the endpoints refuse it from now on."]
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "Revoked" in response.content.decode()

    refused = authorize(Client(), key)
    assert refused.status_code == 401 and refused.json()["error"] == "unauthorized"


def test_revoking_twice_keeps_the_first_revocation(client, global_admin, their_key):
    token, _ = their_key
    client.force_login(global_admin)
    client.post(revoke_url(token), follow=True)
    token.refresh_from_db()
    first = token.revoked_at
    again = client.post(revoke_url(token), follow=True)
    token.refresh_from_db()
    assert token.revoked_at == first
    assert messages_of(again) == [f"API key “Contoso forwarder” was already revoked on {first:%Y-%m-%d %H:%M} UTC."]
    assert "This key is already revoked." in client.get(revoke_url(token)).content.decode()


def test_revoke_api_key_reports_whether_it_changed_anything(org, their_key):
    token, _ = their_key
    assert revoke_api_key(organization=org, token_id=token.pk)[1] is True
    assert revoke_api_key(organization=org, token_id=token.pk)[1] is False


# Who may do what ---------------------------------------------------------------------------------


def test_a_reports_reader_sees_the_list_but_cannot_create_or_revoke(client, reports_reader, their_key):
    token, key = their_key
    client.force_login(reports_reader)
    listing = client.get(LIST)
    html = listing.content.decode()
    assert listing.status_code == 200 and "Contoso forwarder" in html and token.prefix in html
    assert listing.context["form"] is None and "Create key" not in html and revoke_url(token) not in html
    assert "Only a Global, Billing, Teams or Teams Communications Administrator can create or revoke API keys" in html

    refused = client.post(LIST, {"name": "Mine"})
    assert refused.status_code == 403
    assert "can create or revoke API keys. You can view the list." in refused.content.decode()
    assert client.get(revoke_url(token)).status_code == 403
    assert client.post(revoke_url(token)).status_code == 403
    assert client.get(CREATED).status_code == 403
    token.refresh_from_db()
    assert token.revoked_at is None and ApiToken.objects.count() == 1


@pytest.mark.parametrize("role", [AdminRole.LICENSE_ADMINISTRATOR, AdminRole.HELPDESK_ADMINISTRATOR])
def test_other_admin_roles_cannot_post_either(client, org, role, their_key):
    token, _ = their_key
    client.force_login(admin_in(org, role))
    assert client.get(LIST).status_code == 200
    assert client.post(LIST, {"name": "Mine"}).status_code == 403
    assert client.post(revoke_url(token)).status_code == 403
    token.refresh_from_db()
    assert token.revoked_at is None and ApiToken.objects.count() == 1


def test_a_member_without_an_admin_role_cannot_see_the_keys(client, plain_member, their_key):
    client.force_login(plain_member)
    response = client.get(LIST)
    assert response.status_code == 403 and "Contoso forwarder" not in response.content.decode()
    assert client.post(LIST, {"name": "Mine"}).status_code == 403


def test_the_usage_report_links_to_the_keys(client, reports_reader):
    client.force_login(reports_reader)
    assert f'href="{LIST}"' in client.get(reverse("usage:report")).content.decode()


def test_the_import_page_links_the_organizations_api_key_to_the_keys_page(client, global_admin):
    client.force_login(global_admin)
    assert f'<a href="{LIST}">API key</a>' in client.get(reverse("usage:import")).content.decode()


# Tenant isolation --------------------------------------------------------------------------------


def test_another_organizations_key_cannot_be_revoked_or_opened(client, outsider, their_key):
    token, key = their_key
    client.force_login(outsider)  # a Billing Administrator, who may manage their own keys
    assert client.get(revoke_url(token)).status_code == 404
    assert client.post(revoke_url(token)).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_the_list_shows_only_the_organizations_own_keys(client, outsider, other_org, their_key):
    token, _ = their_key
    own, _ = create_api_key(organization=other_org, name="Outsider script")
    client.force_login(outsider)
    response = client.get(LIST)
    html = response.content.decode()
    assert list(response.context["tokens"]) == [own]
    assert "Outsider script" in html and "Contoso forwarder" not in html and token.prefix not in html


def test_a_key_of_an_unknown_id_is_404(client, global_admin):
    client.force_login(global_admin)
    assert client.post(reverse("usage:api_key_revoke", args=[999999])).status_code == 404


# The command -------------------------------------------------------------------------------------


def test_the_command_makes_keys_with_the_same_service(org, capsys):
    call_command("create_usage_token", org.slug, "Nightly Graph job")
    out = capsys.readouterr().out
    token = ApiToken.objects.get()
    key = out.split(f"({token.name}): ")[1].split()[0]
    assert hash_key(key) == token.key_hash and token.organization == org and token.created_by is None
    assert "It is not stored and is shown only this once." in out


def test_the_command_refuses_a_name_the_page_would_refuse(org):
    with pytest.raises(CommandError, match="use 100 or fewer"):
        call_command("create_usage_token", org.slug, "x" * 101)
    with pytest.raises(CommandError, match="Give the key a name"):
        call_command("create_usage_token", org.slug, "  ")
    assert not ApiToken.objects.exists()


# Django admin ------------------------------------------------------------------------------------


def test_support_makes_a_key_in_django_admin_with_the_same_service(client, org, admin_user, caplog):
    client.force_login(admin_user)
    form = client.get(ADMIN_ADD).context["adminform"].form
    assert list(form.fields) == ["organization", "name"]  # a new key is active: no revocation time to set
    with caplog.at_level(logging.INFO, logger="usage.services.api_keys"):
        response = client.post(ADMIN_ADD, {"organization": org.pk, "name": "  Support script  "}, follow=True)
    token = ApiToken.objects.get()
    assert (token.organization, token.name, token.created_by, token.revoked_at) == (org, "Support script", admin_user, None)
    assert f"Usage API key {token.prefix}… created for organization {org.pk} by {admin_user.pk}" in caplog.text
    assert response.redirect_chain == [(reverse("admin:usage_apitoken_changelist"), 302)]

    shown = [str(m) for m in response.context["messages"] if "copy it now" in str(m)]
    assert len(shown) == 1
    key = shown[0].split(" is ")[1].split(" - ")[0]
    assert hash_key(key) == token.key_hash and authorize(Client(), key).status_code == 200
    assert key not in client.get(reverse("admin:usage_apitoken_changelist")).content.decode()


@pytest.mark.parametrize(
    "name,problem",
    [("   ", "Give the key a name, e.g. what will use it."), ("x" * 101, "Use 100 characters or fewer (this name has 101).")],
)
def test_django_admin_checks_the_name_like_the_page(client, org, admin_user, name, problem):
    client.force_login(admin_user)
    response = client.post(ADMIN_ADD, {"organization": org.pk, "name": name})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["name"] == [problem]
    assert not ApiToken.objects.exists()


def test_editing_a_key_in_django_admin_makes_no_new_key(client, admin_user, their_key):
    token, key = their_key
    client.force_login(admin_user)
    change = reverse("admin:usage_apitoken_change", args=[token.pk])
    response = client.post(change, {"organization": token.organization_id, "name": "Renamed", "revoked_at_0": "", "revoked_at_1": ""})
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.name == "Renamed" and hash_key(key) == token.key_hash and ApiToken.objects.count() == 1


def test_django_admin_cannot_move_a_key_to_another_organization_or_bring_it_back(client, admin_user, their_key, org):
    token, key = their_key
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    other = OrganizationFactory()
    client.force_login(admin_user)
    change = reverse("admin:usage_apitoken_change", args=[token.pk])
    response = client.post(change, {"organization": other.pk, "name": "Moved", "revoked_at_0": "", "revoked_at_1": ""})
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.organization_id == org.pk and token.revoked_at is not None and token.name == "Moved"


def test_the_django_admin_revoke_action_goes_through_the_service(client, admin_user, their_key, caplog):
    token, key = their_key
    client.force_login(admin_user)
    changelist = reverse("admin:usage_apitoken_changelist")
    with caplog.at_level("INFO", logger="usage.services.api_keys"):
        client.post(changelist, {"action": "revoke", "_selected_action": [token.pk]})
        client.post(changelist, {"action": "revoke", "_selected_action": [token.pk]})
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert sum("revoked" in r.getMessage() for r in caplog.records) == 1  # the second time changes nothing
