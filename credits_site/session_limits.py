"""How long a signed-in session lasts in this billing console: SESSION_IDLE_TIMEOUT seconds without a
request, and SESSION_COOKIE_AGE seconds after signing in whatever happens. Either one signs the person
out, and the sign-in page says why.

Django's own SESSION_COOKIE_AGE alone is no absolute limit: every save of the session (a message, an
organization switch) pushes its expiry forward. So the sign-in time and the last request's time are
kept in the session (written at sign-in by `on_signed_in`, connected in apps.py) and compared with
the clock.
"""

import time
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect

from .durations import in_words

SIGNED_IN_AT = "signed_in_at"
LAST_REQUEST_AT = "last_request_at"
# Writing the session on every request would cost a database write per page: the time of the last
# request is written at most once a minute, and the idle limit allows for that minute, so nobody is
# signed out before SESSION_IDLE_TIMEOUT, and everybody within a minute after it.
LAST_REQUEST_PRECISION = 60


class SessionLimitsMiddleware:
    """After AuthenticationMiddleware and MessageMiddleware: it signs out and leaves a message."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        now = time.time()
        if request.user.is_authenticated:
            reason = why_the_session_ended(request.session, now)
            if reason:
                return sign_out(request, reason)
        response = self.get_response(request)
        if request.user.is_authenticated:
            note_the_request(request.session, now)
        return response


def on_signed_in(sender, request, user, **kwargs):
    """Both clocks start at sign-in, in the session that login() is about to save anyway."""
    now = time.time()
    request.session[SIGNED_IN_AT] = now
    request.session[LAST_REQUEST_AT] = now


def why_the_session_ended(session, now):
    """A sentence for the sign-in page when a limit is past, otherwise None."""
    signed_in_at = session.get(SIGNED_IN_AT)
    last_request_at = session.get(LAST_REQUEST_AT)
    if signed_in_at is not None and now - signed_in_at >= settings.SESSION_COOKIE_AGE:
        lifetime = in_words(timedelta(seconds=settings.SESSION_COOKIE_AGE))
        return f"You were signed out because sessions end {lifetime} after signing in. Sign in again to continue."
    if last_request_at is not None and now - last_request_at >= settings.SESSION_IDLE_TIMEOUT + LAST_REQUEST_PRECISION:
        idle = in_words(timedelta(seconds=settings.SESSION_IDLE_TIMEOUT))
        return f"You were signed out after {idle} without activity. Sign in again to continue."
    return None


def note_the_request(session, now):
    # setdefault: a session signed in before these limits existed starts its clocks now.
    session.setdefault(SIGNED_IN_AT, now)
    if now - session.get(LAST_REQUEST_AT, 0) >= LAST_REQUEST_PRECISION:
        session[LAST_REQUEST_AT] = now


def sign_out(request, reason):
    logout(request)  # a new, empty session: the message below is all it carries
    messages.info(request, reason)
    if request.method in ("GET", "HEAD"):
        return redirect_to_login(request.get_full_path())
    # The form that was sent is lost with the session; the person starts again from the page.
    return redirect(settings.LOGIN_URL)
