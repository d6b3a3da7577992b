import pytest
from django.urls import reverse

from billing.choices import AdminRole
from tests.factories import DEFAULT_PASSWORD, admin_in

pytestmark = pytest.mark.django_db


def test_an_admin_signs_in_and_lands_on_the_admin_center(client, org):
    person = admin_in(org, AdminRole.BILLING_ADMINISTRATOR)
    response = client.post(reverse("login"), {"username": person.username, "password": DEFAULT_PASSWORD}, follow=True)
    body = response.content.decode()
    assert response.status_code == 200
    assert org.name in body and "Communications Credits" in body


def test_a_wrong_password_says_so_without_saying_which_part_was_wrong(client, org):
    person = admin_in(org, AdminRole.BILLING_ADMINISTRATOR)
    response = client.post(reverse("login"), {"username": person.username, "password": "nope"})
    assert "email or password is not right" in response.content.decode()


def test_repeated_failed_sign_ins_lock_the_account_for_a_while(client, org, settings):
    person = admin_in(org, AdminRole.BILLING_ADMINISTRATOR)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": person.username, "password": "wrong"})
    locked = client.post(reverse("login"), {"username": person.username, "password": DEFAULT_PASSWORD})
    assert locked.status_code == 429
    assert "Too many sign-in attempts" in locked.content.decode()


def test_signing_out_needs_a_post_and_ends_the_session(client, org):
    person = admin_in(org, AdminRole.BILLING_ADMINISTRATOR)
    client.force_login(person)
    client.post(reverse("logout"))
    assert client.get(reverse("billing:credits")).status_code == 302
