"""Site-wide periodic work (declared in CELERY_BEAT_SCHEDULE like every app's)."""

from importlib import import_module

from celery import shared_task
from django.conf import settings


@shared_task(time_limit=600, soft_time_limit=540)
def clear_expired_sessions_task():
    """Sessions end after SESSION_COOKIE_AGE; their rows stay in the database until removed here
    (what `manage.py clearsessions` does), so that the table does not grow without end."""
    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()
