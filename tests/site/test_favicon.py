"""The site's icon: every page of base.html names it, so that browsers do not ask for /favicon.ico
(a 404 and a console error on every page before it), and it is one of the site's own static files."""

from django.contrib.staticfiles import finders
from django.urls import reverse


def test_the_pages_name_the_sites_own_icon(client):
    page = client.get(reverse("login")).content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    icon = finders.find("favicon.svg")
    assert icon is not None
    with open(icon, encoding="utf-8") as handle:
        assert handle.read().startswith("<svg")
