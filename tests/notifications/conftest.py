"""Fixtures for notification tests: an organization with people in every role, a real SMTP server."""

import socket
import threading

import pytest

from billing.choices import AdminRole
from tests.factories import OrganizationFactory, UserFactory, admin_in

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


@pytest.fixture
def fast_retries(settings):
    """Retries become due at once, so a retry can be driven without waiting."""
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 0
    return settings


@pytest.fixture
def one_admin_per_role(org):
    """A person for each of the 20 roles, keyed by role."""
    return {role: admin_in(org, role) for role in AdminRole.values}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RecordingHandler:
    """Accepts mail, or answers "451 try again later" to the first `refuse_first` messages."""

    def __init__(self, refuse_first=0):
        self.refuse_first = refuse_first
        self.refused = 0
        self.envelopes = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.refused < self.refuse_first:
                self.refused += 1
                return "451 4.3.0 Mailbox busy, try again later"
            self.envelopes.append(envelope)
        return "250 2.0.0 Message accepted for delivery"

    @property
    def recipients(self):
        with self.lock:
            return [rcpt for envelope in self.envelopes for rcpt in envelope.rcpt_tos]


class SmtpServer:
    def __init__(self, handler, port):
        from aiosmtpd.controller import Controller

        self.handler = handler
        self.port = port
        self.controller = Controller(handler, hostname="127.0.0.1", port=port)

    def mailer(self):
        return {"default": {"BACKEND": SMTP_BACKEND, "OPTIONS": {"host": "127.0.0.1", "port": self.port, "timeout": 5}}}


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server (aiosmtpd) on 127.0.0.1 and a free port; the default mailer points at it."""
    server = SmtpServer(RecordingHandler(), free_port())
    server.controller.start()
    settings.MAILERS = server.mailer()
    yield server
    server.controller.stop()


@pytest.fixture
def another_org(db):
    return OrganizationFactory(name="Fabrikam Test", slug="fabrikam-test")


@pytest.fixture
def make_user():
    return UserFactory
