"""Site-wide periodic work."""

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from credits_site.tasks import clear_expired_sessions_task

pytestmark = pytest.mark.django_db


def test_ended_sessions_are_removed_and_live_ones_kept(client, billing_admin):
    client.force_login(billing_admin)
    live = Session.objects.get()
    Session.objects.create(session_key="ended" + "x" * 30, session_data="", expire_date=timezone.now() - timedelta(minutes=1))
    clear_expired_sessions_task.delay()
    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]
