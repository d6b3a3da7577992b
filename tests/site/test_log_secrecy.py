"""No password, card number, security code or API key in any log line.

The journeys that carry them run with every logger at DEBUG, written through the production JSON
formatter; then the whole output is searched for each secret. The failures are included (a wrong
password, a declined card, a gateway that crashes, an unknown key) since they are what logs the most.
"""

import json
import re

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from billing.choices import AdminRole
from billing.gateways.sandbox import SandboxGateway
from tests.factories import admin_in
from usage.services.api_keys import create_api_key

pytestmark = pytest.mark.django_db(transaction=True)

WRONG_PASSWORD = "Correct-Horse-Battery-7f3a"
CARD = "4242424242424242"
DECLINED_CARD = "4000000000000069"
CVC = "7319"


class CrashingGateway(SandboxGateway):
    def attach_card(self, *, number, exp_month, exp_year, cvc):
        raise RuntimeError("the processor is down")


def card_form(number):
    spaced = " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    return {"number": spaced, "exp_month": 4, "exp_year": 2032, "cvc": CVC}


def searchable(json_log):
    """The lines without the numeric fields (pid, duration, time), where a 4-digit CVC could
    appear by chance; every message, extra and traceback stays."""
    kept = [{k: v for k, v in line.items() if k not in ("pid", "duration_ms", "timestamp")} for line in json_log.lines()]
    return "\n".join(json.dumps(line, ensure_ascii=False) for line in kept)


def assert_absent(secret, text):
    assert not re.search(rf"(?<!\d){re.escape(secret)}(?!\d)", text), f"{secret!r} is in the log"


def test_a_wrong_password_is_never_logged(client, org, json_log):
    person = admin_in(org, AdminRole.BILLING_ADMINISTRATOR)
    response = client.post(reverse("login"), {"username": person.username, "password": WRONG_PASSWORD})
    assert response.status_code == 200 and "email or password is not right" in response.content.decode()
    assert json_log.of("credits_site.requests"), "the sign-in was logged"
    assert WRONG_PASSWORD not in json_log.text


def test_card_numbers_and_security_codes_are_never_logged(client, billing_admin, json_log):
    client.force_login(billing_admin)
    assert client.post(reverse("billing:add_card"), card_form(CARD)).status_code == 302
    assert client.post(reverse("billing:add_card"), card_form(DECLINED_CARD)).status_code == 400
    with override_settings(PAYMENT_GATEWAY=f"{__name__}.CrashingGateway"):
        client.raise_request_exception = False
        assert client.post(reverse("billing:add_card"), card_form(CARD)).status_code == 500

    assert any(line.get("exc_info") for line in json_log.lines()), "the crash was logged with its traceback"
    text = searchable(json_log)
    for secret in (CARD, DECLINED_CARD, CVC, "4242 4242 4242 4242", "4000 0000 0000 0069"):
        assert_absent(secret, text)


def test_api_keys_are_never_logged(org, global_admin, json_log):
    token, key = create_api_key(organization=org, name="Graph forwarder", actor=global_admin)
    api = Client()
    url = reverse("usage_api:authorize")
    params = {"user": "alice@contoso.test", "number": "+12065550100"}
    known = api.get(url, params, headers={"Authorization": f"Bearer {key}"})
    assert known.status_code != 401, "the key was accepted"
    unknown = api.get(url, params, headers={"Authorization": f"Bearer {key[:-4]}zzzz"})
    assert unknown.status_code == 401

    assert len(json_log.of("credits_site.requests")) == 2
    secret_part = key[len(token.prefix) :]
    for secret in (key, secret_part, f"{key[:-4]}zzzz"):
        assert secret not in json_log.text
