import logging.config
import os

from celery import Celery, signals
from django.conf import settings

from .logs import task_finished, task_started

# As wsgi.py and asgi.py: a process started without a settings module runs production settings, which
# refuse to start without their secrets. Only manage.py defaults to the newcomer's local settings, and
# `make run` names them for its worker. (This module is imported by credits_site/__init__.py, before
# wsgi.py could set its own default.)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "credits_site.settings.production")

app = Celery("credits_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.setup_logging.connect
def use_django_logging(loglevel=None, **kwargs):
    """Workers and beat log like the web processes (JSON lines in production), not in Celery's own
    format: a receiver of this signal tells Celery to leave logging alone. The command line's
    --loglevel still sets the level."""
    logging.config.dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)


signals.task_prerun.connect(task_started, weak=False)
signals.task_postrun.connect(task_finished, weak=False)
