"""A signed-in session ends after SESSION_IDLE_TIMEOUT without a request and SESSION_COOKIE_AGE after
signing in, and the sign-in page says why (credits_site/session_limits.py). The clock is moved."""

from datetime import timedelta
from urllib.parse import quote

import pytest
import time_machine
from django.urls import reverse

from billing.choices import AdminRole
from credits_site.session_limits import LAST_REQUEST_AT, SIGNED_IN_AT
from tests.factories import DEFAULT_PASSWORD, admin_in

pytestmark = pytest.mark.django_db

CREDITS = reverse("billing:credits")
# Nobody is signed out before the idle timeout, and everybody within this much after it (the time of
# the last request is written to the session at most once a minute).
IDLE_GRACE = timedelta(seconds=61)


@pytest.fixture
def clock():
    with time_machine.travel("2026-03-02 09:00:00Z", tick=False) as traveller:
        yield traveller


@pytest.fixture
def signed_in(client, org, clock):
    """A billing admin signed in through the sign-in form, at the clock's time."""
    person = admin_in(org, AdminRole.BILLING_ADMINISTRATOR)
    response = client.post(reverse("login"), {"username": person.username, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    return client


def idle(settings):
    return timedelta(seconds=settings.SESSION_IDLE_TIMEOUT)


def lifetime(settings):
    return timedelta(seconds=settings.SESSION_COOKIE_AGE)


def sign_in_page_text(client, response):
    page = client.get(response["Location"]).content.decode()
    return page.replace("\xa0", " ")  # durations keep their number and unit together


def test_the_defaults_are_thirty_minutes_idle_and_eight_hours_in_all(settings):
    assert settings.SESSION_IDLE_TIMEOUT == 30 * 60
    assert settings.SESSION_COOKIE_AGE == 8 * 60 * 60


def test_a_session_idle_up_to_the_timeout_stays_signed_in(signed_in, clock, settings):
    clock.shift(idle(settings) - timedelta(seconds=1))
    assert signed_in.get(CREDITS).status_code == 200


def test_a_session_idle_past_the_timeout_is_signed_out_and_told_why(signed_in, clock, settings):
    clock.shift(idle(settings) + IDLE_GRACE)
    response = signed_in.get(CREDITS)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={quote(CREDITS)}"
    assert "You were signed out after 30 minutes without activity." in sign_in_page_text(signed_in, response)
    # Signed out for good: the next request is an anonymous one, and the message was said once.
    again = signed_in.get(CREDITS)
    assert again.status_code == 302
    assert "without activity" not in sign_in_page_text(signed_in, again)


def test_each_request_restarts_the_idle_clock(signed_in, clock, settings):
    for _ in range(3):
        clock.shift(idle(settings) - timedelta(minutes=1))
        assert signed_in.get(CREDITS).status_code == 200


def test_a_busy_session_still_ends_at_its_lifetime_and_says_so(signed_in, clock, settings):
    step = idle(settings) - timedelta(minutes=1)
    used = timedelta(0)
    while used + step < lifetime(settings):
        clock.shift(step)
        used += step
        assert signed_in.get(CREDITS).status_code == 200
    clock.shift(lifetime(settings) - used)

    response = signed_in.get(CREDITS)
    assert response.status_code == 302
    assert "sessions end 8 hours after signing in" in sign_in_page_text(signed_in, response)


def test_a_form_sent_after_the_timeout_leads_to_the_sign_in_page(signed_in, clock, settings, org):
    clock.shift(idle(settings) + IDLE_GRACE)
    response = signed_in.post(reverse("switch_organization"), {"organization": org.pk})
    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert "without activity" in sign_in_page_text(signed_in, response)


def test_a_session_from_before_these_limits_starts_its_clocks_at_its_next_request(client, org, clock, settings):
    client.force_login(admin_in(org, AdminRole.BILLING_ADMINISTRATOR))
    session = client.session
    for key in (SIGNED_IN_AT, LAST_REQUEST_AT):
        del session[key]
    session.save()

    assert client.get(CREDITS).status_code == 200
    clock.shift(idle(settings) + IDLE_GRACE)
    assert client.get(CREDITS).status_code == 302
