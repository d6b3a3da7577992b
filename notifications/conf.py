"""Tunables, each overridable in Django settings; the defaults suit production."""

from django.conf import settings


def get(name, default):
    return getattr(settings, name, default)


def retry_base_seconds():
    # First retry after this long, then doubling: 30 s, 1 min, 2 min ... up to an hour apart.
    return get("NOTIFICATIONS_RETRY_BASE_SECONDS", 30)


def retry_max_seconds():
    return get("NOTIFICATIONS_RETRY_MAX_SECONDS", 3600)


def max_attempts():
    # 8 attempts at the default back-off span a little over an hour of SMTP trouble.
    return get("NOTIFICATIONS_MAX_ATTEMPTS", 8)


def batch_size():
    return get("NOTIFICATIONS_BATCH_SIZE", 100)


def parallel_sends():
    # A large event is sent by up to this many tasks at once; the claims keep them apart.
    return get("NOTIFICATIONS_PARALLEL_SENDS", 4)


def stale_claim_seconds():
    # Longer than the task time limit: a claim this old belongs to a worker that died.
    return get("NOTIFICATIONS_STALE_CLAIM_SECONDS", 600)


def support_emails():
    return list(get("SUPPORT_EMAILS", []))


def site_url():
    return get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
