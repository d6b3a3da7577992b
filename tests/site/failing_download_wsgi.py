"""A WSGI application for tests of the web server: the site's streamed CSV download
(credits_site.streaming.csv_download) whose rows fail partway, as when the database connection is lost
while a download is being written (tests/site/test_serve.py)."""

import django
from django.conf import settings
from django.urls import path

ROWS_BEFORE_THE_FAILURE = 2000


def rows_that_fail_partway():
    yield ["Date", "Amount"]
    for n in range(ROWS_BEFORE_THE_FAILURE):
        yield [f"2026-12-{n % 28 + 1:02d}", f"{n}.00"]
    raise ConnectionError("the database connection was lost while the rows were read")


def download(request):
    from credits_site.streaming import csv_download

    return csv_download(rows_that_fail_partway(), "transactions.csv")


settings.configure(DEBUG=False, SECRET_KEY="test-only-not-secret", ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__, MIDDLEWARE=[])
django.setup()
urlpatterns = [path("transactions.csv", download)]

from django.core.wsgi import get_wsgi_application  # noqa: E402 - after the settings it reads

application = get_wsgi_application()
