"""Log lines that say which request or task they belong to, as JSON in production.

Every record passes through `ContextFilter`, which adds the request id, user id and organization id
of the request being served, or the id and name of the Celery task being run. `JsonFormatter` writes a
record as one JSON object a line. `logging_settings()` is the LOGGING dictionary of every environment.

What goes into a line is only what code passes to a logger: nothing here reads request bodies,
headers or task arguments, so a password, card number or API key can only reach a log by a message
that names it (tests/site/test_log_secrecy.py checks the sign-in, card and API key paths).
"""

import logging
from contextvars import ContextVar

from django.utils.functional import LazyObject, empty
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as BaseJsonFormatter

current_request = ContextVar("current_request", default=None)
current_task = ContextVar("current_task", default=None)

# Extras that Django's loggers attach and that must not be written out: the request object's text
# is its full URL, query string included.
UNWRITTEN_EXTRAS = ("request", "server_time")


class ContextFilter(logging.Filter):
    """Adds request_id, user_id, organization_id (requests) and task_id, task_name (tasks)."""

    def filter(self, record):
        request = current_request.get()
        if request is not None:
            record.request_id = getattr(request, "request_id", None)
            user = _resolved(getattr(request, "user", None))
            if user is not None and user.is_authenticated:
                record.user_id = user.pk
            tenant = _resolved(getattr(request, "tenant", None))
            organization = getattr(tenant, "organization", None)
            if organization is not None:
                record.organization_id = organization.pk
        task = current_task.get()
        if task is not None:
            record.task_id, record.task_name = task
        return True


def _resolved(value):
    """The value, unless it is a lazy object nobody has evaluated yet.

    A log call must never run the queries that resolve the signed-in user or the tenant (and a
    query logged from inside a log call would recurse); what the request has already looked up is
    free to read.
    """
    if isinstance(value, LazyObject):
        wrapped = value._wrapped
        return None if wrapped is empty else wrapped
    return value


class JsonFormatter(BaseJsonFormatter):
    """One JSON object a line: timestamp (UTC), level, logger, message, context and extras."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("fmt", "%(levelname)s %(name)s %(process)d %(message)s")
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger", "process": "pid"})
        kwargs.setdefault("timestamp", True)
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, *UNWRITTEN_EXTRAS])
        super().__init__(*args, **kwargs)


# Celery task id -> the token that restores the context the task found.
_task_tokens = {}


def task_started(task_id=None, task=None, **kwargs):
    """Celery's task_prerun: records logged while the task runs carry its id and name."""
    _task_tokens[task_id] = current_task.set((task_id, getattr(task, "name", None)))


def task_finished(task_id=None, **kwargs):
    """Celery's task_postrun. A token per task keeps an eager task run inside another one right."""
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        current_task.reset(token)


def logging_settings(*, json, level="INFO"):
    """The LOGGING setting: everything to stderr, as JSON lines or as plain text for a terminal."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "credits_site.logs.ContextFilter"}},
        "formatters": {
            "json": {"()": "credits_site.logs.JsonFormatter"},
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json" if json else "plain",
                "filters": ["context"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django's default handlers (a console copy when DEBUG, runserver's own format, mail to
            # ADMINS, which is not set) go: each of its records reaches the root's handler once.
            "django": {"handlers": [], "level": level},
            "django.server": {"handlers": [], "propagate": True},
            "django.db.backends": {"level": "WARNING"},
        },
    }
