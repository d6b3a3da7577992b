"""Sign-in is throttled per account and per client address (password spraying), with the client's
address taken from the connection unless proxies are trusted (credits_site/sign_in.py)."""

from datetime import timedelta

import pytest
import time_machine
from axes.models import AccessAttempt
from django.test import RequestFactory
from django.urls import reverse

from billing.choices import AdminRole
from credits_site.sign_in import client_address
from tests.factories import DEFAULT_PASSWORD, admin_in

ATTACKER = "203.0.113.66"
NEIGHBOUR = "203.0.113.77"
PROXY = "10.0.0.2"


def sign_in(client, username, password, *, address=ATTACKER, forwarded_for=None):
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address, headers=headers
    )


def text_of(response):
    # Durations are written with a no-break space ("15\xa0minutes"), as Django's timesince does.
    return response.content.decode().replace("\xa0", " ")


def signed_in(response):
    return response.status_code == 302 and response.wsgi_request.user.is_authenticated


def spray(client, count, **where):
    """One wrong password each to `count` different accounts; the answers, in order."""
    return [sign_in(client, f"person{n}@victim.test", "Summer2025!", **where) for n in range(count)]


@pytest.fixture
def person(org):
    return admin_in(org, AdminRole.BILLING_ADMINISTRATOR)


@pytest.mark.django_db
def test_password_spraying_from_one_address_is_stopped_whatever_the_account(client, settings, person):
    limit = settings.SIGN_IN_ADDRESS_FAILURE_LIMIT
    answers = spray(client, limit)
    assert [a.status_code for a in answers] == [200] * (limit - 1) + [429]

    # Even the right password of an account never tried is refused from that address now.
    locked = sign_in(client, person.username, DEFAULT_PASSWORD)
    assert locked.status_code == 429
    assert not locked.wsgi_request.user.is_authenticated
    page = text_of(locked)
    assert "Too many sign-in attempts" in page
    assert "too many failed sign-ins from your network" in page
    assert "paused for 15 minutes, whichever account you use" in page
    assert locked["Retry-After"] == "900"


@pytest.mark.django_db
def test_another_address_is_not_held_back_by_a_sprayed_one(client, settings, person):
    spray(client, settings.SIGN_IN_ADDRESS_FAILURE_LIMIT)
    assert signed_in(sign_in(client, person.username, DEFAULT_PASSWORD, address=NEIGHBOUR))


@pytest.mark.django_db
def test_a_forged_forwarded_for_header_does_not_escape_the_lock_when_no_proxy_is_trusted(client, settings, person):
    assert settings.TRUSTED_PROXY_COUNT == 0
    for n in range(settings.SIGN_IN_ADDRESS_FAILURE_LIMIT):
        sign_in(client, f"person{n}@victim.test", "Summer2025!", forwarded_for=f"198.51.100.{n}")

    locked = sign_in(client, person.username, DEFAULT_PASSWORD, forwarded_for="198.51.100.250")
    assert locked.status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ATTACKER}


@pytest.mark.django_db
def test_behind_one_trusted_proxy_the_address_before_the_proxy_is_counted(client, settings, person):
    settings.TRUSTED_PROXY_COUNT = 1
    # The client forges a first hop; the proxy appends the address it really saw.
    spray(client, settings.SIGN_IN_ADDRESS_FAILURE_LIMIT, address=PROXY, forwarded_for=f"192.0.2.1, {ATTACKER}")
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ATTACKER}

    locked = sign_in(client, person.username, DEFAULT_PASSWORD, address=PROXY, forwarded_for=ATTACKER)
    assert locked.status_code == 429
    # Another client behind the same proxy is someone else.
    assert signed_in(sign_in(client, person.username, DEFAULT_PASSWORD, address=PROXY, forwarded_for=NEIGHBOUR))


@pytest.mark.django_db
def test_an_account_is_locked_after_its_own_failures_at_one_address(client, settings, org, person):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, person.username, "wrong")
    assert settings.AXES_FAILURE_LIMIT < settings.SIGN_IN_ADDRESS_FAILURE_LIMIT

    locked = sign_in(client, person.username, DEFAULT_PASSWORD)
    assert locked.status_code == 429
    page = text_of(locked)
    assert "too many failed sign-ins to this account" in page
    assert "paused for 15 minutes" in page
    # The address itself is not locked: other accounts still sign in from it.
    colleague = admin_in(org, AdminRole.GLOBAL_ADMINISTRATOR)
    assert signed_in(sign_in(client, colleague.username, DEFAULT_PASSWORD))


@pytest.mark.django_db
def test_signing_in_to_an_own_account_does_not_wipe_the_address_count(client, settings, person):
    limit = settings.SIGN_IN_ADDRESS_FAILURE_LIMIT
    spray(client, limit - 1)
    assert signed_in(sign_in(client, person.username, DEFAULT_PASSWORD))
    client.post(reverse("logout"))

    assert sign_in(client, "one-more@victim.test", "Summer2025!").status_code == 429


@pytest.mark.django_db
def test_the_address_lock_lifts_after_the_cool_off(client, settings, person):
    with time_machine.travel("2026-03-02 09:00:00Z", tick=False) as clock:
        spray(client, settings.SIGN_IN_ADDRESS_FAILURE_LIMIT)
        clock.shift(settings.AXES_COOLOFF_TIME - timedelta(seconds=1))
        assert sign_in(client, person.username, DEFAULT_PASSWORD).status_code == 429
        clock.shift(timedelta(seconds=2))
        assert signed_in(sign_in(client, person.username, DEFAULT_PASSWORD))


@pytest.mark.parametrize(
    ("proxies", "forwarded_for", "remote_addr", "expected"),
    [
        (0, "198.51.100.1", "203.0.113.5", "203.0.113.5"),  # no proxy trusted: the header is the client's
        (1, "198.51.100.1", PROXY, "198.51.100.1"),
        (1, "192.0.2.9, 198.51.100.1", PROXY, "198.51.100.1"),  # a forged first hop is left of the proxy's
        (2, "192.0.2.9, 198.51.100.1, 10.0.0.1", PROXY, "198.51.100.1"),
        (1, "", "203.0.113.5", "203.0.113.5"),  # round the proxy: the connection is all there is
        (1, "198.51.100.1:5555", PROXY, PROXY),  # not an address (a port): the proxy is counted
        (1, " 2001:db8::1 ", PROXY, "2001:db8::1"),
    ],
)
def test_the_client_address_counts_only_the_trusted_proxies(settings, proxies, forwarded_for, remote_addr, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR=remote_addr, headers={"X-Forwarded-For": forwarded_for})
    assert client_address(request) == expected


def test_the_client_address_header_can_be_another_one(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.CLIENT_ADDRESS_HEADER = "X-Real-IP"
    request = RequestFactory().get(
        "/", REMOTE_ADDR=PROXY, headers={"X-Real-IP": "198.51.100.1", "X-Forwarded-For": "192.0.2.9"}
    )
    assert client_address(request) == "198.51.100.1"
