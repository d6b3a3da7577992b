"""The full card number and the CVC never reach the database, the logs, or Django's debug error page."""

import pytest
from django.test import override_settings
from django.urls import reverse

from billing.gateways.sandbox import SandboxGateway

pytestmark = pytest.mark.django_db(transaction=True)


class ExplodingGateway(SandboxGateway):
    def attach_card(self, *, number, exp_month, exp_year, cvc):
        raise RuntimeError("the processor is on fire")


@override_settings(DEBUG=True, PAYMENT_GATEWAY="tests.billing.test_card_secrecy.ExplodingGateway")
def test_a_crash_while_adding_a_card_does_not_show_the_number_on_the_debug_page(client, billing_admin):
    client.raise_request_exception = False
    client.force_login(billing_admin)
    response = client.post(
        reverse("billing:add_card"), {"number": "4242424242424242", "exp_month": 4, "exp_year": 2032, "cvc": "987"},
        HTTP_ACCEPT="text/html",
    )
    assert response.status_code == 500
    body = response.content.decode()
    assert "the processor is on fire" in body, "the debug page was rendered"
    assert "4242424242424242" not in body
    # The debug page shows a string value quoted; a bare 987 may be part of an unrelated number.
    assert "&#x27;987&#x27;" not in body and "'987'" not in body
