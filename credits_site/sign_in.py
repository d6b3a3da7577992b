"""Sign-in throttling on top of django-axes: the client's address as the configured proxies tell it,
a lock per client address on top of axes' lock per account, and the page that says which one holds.

django-axes counts failures for each set of AXES_LOCKOUT_PARAMETERS against a single
AXES_FAILURE_LIMIT. An account at one address (5 by default) and a whole address trying many accounts
(password spraying) need different limits, so the address's own count lives here
(`SIGN_IN_ADDRESS_FAILURE_LIMIT`), read from the same AccessAttempt rows and the same cool-off.
"""

import ipaddress
from datetime import timedelta

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.db.models import Sum
from django.shortcuts import render

from .durations import in_words


def client_address(request):
    """The address of the client, counting `TRUSTED_PROXY_COUNT` proxies in front of the site.

    Each trusted proxy appends the address it was called from to `CLIENT_ADDRESS_HEADER`
    (X-Forwarded-For by default), and the last one is REMOTE_ADDR. Whatever a client writes in the
    header itself stands to the left of what the proxies appended, so it is never taken: with no
    trusted proxy (the default) the header is ignored altogether.
    """
    remote_addr = request.META.get("REMOTE_ADDR", "")
    proxies = settings.TRUSTED_PROXY_COUNT
    if not proxies:
        return remote_addr
    header = request.headers.get(settings.CLIENT_ADDRESS_HEADER, "")
    chain = [hop.strip() for hop in header.split(",") if hop.strip()] + [remote_addr]
    # Fewer hops than proxies: the request came round the proxies; the farthest hop is all we know.
    candidate = chain[-(proxies + 1)] if len(chain) > proxies else chain[0]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        # A trusted proxy wrote something that is no address (a port, a name): count the proxy.
        return remote_addr


def address_failures(request):
    """Failed sign-ins from the request's address within the cool-off, whatever the account."""
    recent = AccessAttempt.objects.filter(
        ip_address=request.axes_ip_address, attempt_time__gte=get_cool_off_threshold(request)
    )
    return recent.aggregate(total=Sum("failures_since_start"))["total"] or 0


def address_is_locked(request):
    return address_failures(request) >= settings.SIGN_IN_ADDRESS_FAILURE_LIMIT


class AccountAndAddressHandler(AxesDatabaseHandler):
    """axes' database handler, which locks an account at an address (AXES_LOCKOUT_PARAMETERS), and
    also locks an address after SIGN_IN_ADDRESS_FAILURE_LIMIT failures to any accounts.

    A successful sign-in resets only that account's failures at that address (AXES_RESET_ON_SUCCESS),
    so an attacker who owns one account cannot wipe the address's count by signing in to it.
    """

    def is_locked(self, request, credentials=None):
        return super().is_locked(request, credentials) or address_is_locked(request)

    def user_login_failed(self, sender, credentials, request=None, **kwargs):
        super().user_login_failed(sender, credentials, request=request, **kwargs)
        if request is None or request.axes_locked_out or not address_is_locked(request):
            return
        request.axes_locked_out = True
        request.axes_credentials = credentials
        user_locked_out.send(
            "axes", request=request, username=get_client_username(request, credentials), ip_address=request.axes_ip_address
        )


def lockout_response(request, original_response=None, credentials=None):
    """The page a locked-out sign-in gets (AXES_LOCKOUT_CALLABLE): which lock holds, and for how long."""
    cool_off = get_cool_off(request) or timedelta(0)
    context = {"by_address": address_is_locked(request), "wait": in_words(cool_off)}
    response = render(request, "registration/locked_out.html", context, status=429)
    response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response

