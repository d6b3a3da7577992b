"""Rate cards: import (preview, then apply; a bad line refused by its number, nothing applied) and
export, by the commands and in Django admin. A new card never rewrites history."""

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from tests.usage.factories import PersonFactory, RateFactory, at, graph_call
from tests.usage.test_rating import rate
from usage.models import Rate, RateCard
from usage.services.rate_cards import CardRejected, apply_rate_card, read_and_preview, read_card, stage_rate_card
from usage.services.rating import RatingContext

pytestmark = pytest.mark.django_db
D = Decimal
HEADER = "kind,prefix,country,number_type,description,currency,price,connection_fee,minimum_seconds,increment_seconds,effective_from\n"


def today():
    return timezone.now().date()


def card(*lines, header=HEADER):
    return header + "".join(line + "\n" for line in lines)


def upload(text, name="card.csv"):
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")


@pytest.fixture
def table(db):
    """Three lines in effect since 2024: +1, +44 and the US toll-free inbound rate."""
    start = date(2024, 1, 1)
    return [
        RateFactory(prefix="1", country="US", per_unit=D("0.013"), effective_from=start),
        RateFactory(prefix="44", country="GB", per_unit=D("0.024"), effective_from=start),
        RateFactory(kind="toll_free_inbound", prefix="", country="US", per_unit=D("0.0195"), effective_from=start),
    ]


def new_card(day):
    return card(
        f"outbound,1,US,,,USD,0.013,0,60,60,{day}",  # unchanged (its date is not a change)
        f"outbound,44,GB,landline,United Kingdom,USD,0.026,0,1,1,{day}",  # changed: price and 1/1 increments
        f"outbound,49,DE,landline,Germany,USD,0.030,0.01,,,{day}",  # new, 60/60 by default
    )  # the toll-free inbound line is not on the card: removed


def test_the_preview_shows_new_changed_removed_and_unchanged_lines(table):
    day = today() + timedelta(days=1)
    preview = read_and_preview(new_card(day))
    assert [c.line.where for c in preview.new] == ["+49"]
    assert [(c.old.per_unit, c.line.price) for c in preview.changed] == [(D("0.024"), D("0.026"))]
    assert [r.country for r in preview.removed] == ["US"]
    assert preview.unchanged == 1 and preview.effective_from == day


def test_applying_a_card_keeps_history_old_lines_end_where_new_ones_start(table, org, catalog):
    day = today() + timedelta(days=1)
    staged, _ = stage_rate_card(upload(new_card(day)))
    assert Rate.objects.count() == 3  # a preview changes nothing
    applied, _ = apply_rate_card(staged.pk)
    assert applied.status == RateCard.Status.APPLIED and (applied.new_lines, applied.changed_lines, applied.removed_lines) == (1, 1, 1)
    gb = list(Rate.objects.filter(prefix="44").order_by("effective_from"))
    assert [(r.per_unit, r.effective_from, r.effective_to) for r in gb] == [
        (D("0.024"), date(2024, 1, 1), day), (D("0.026"), day, None)
    ]
    assert (gb[1].minimum_seconds, gb[1].increment_seconds, gb[1].card) == (1, 1, applied)
    assert Rate.objects.get(kind="toll_free_inbound").effective_to == day
    assert Rate.objects.get(prefix="1").effective_to is None and Rate.objects.get(prefix="1").card is None
    # Calls keep the price of their day: the day before the card at the old price, from its day at the new one.
    PersonFactory(organization=org, upn="payg@contoso.test", licenses="MCOPSTN9 MCOPSTNPP")
    ctx = RatingContext(org, balance=D("100.00"), allowed=True)
    before, _ = rate(ctx, graph_call(upn="payg@contoso.test", callee="+442079460000", seconds=90, start=at(str(today()))))
    after, _ = rate(ctx, graph_call(upn="payg@contoso.test", callee="+442079460000", seconds=90, start=at(str(day))))
    assert before.charge == D("0.05") and "2 min x 0.024 USD (+44)" in before.reason  # 2 min x 0.024 = 0.048
    assert after.charge == D("0.04") and "90 s x 0.026 USD per min (+44)" in after.reason  # 1.5 min x 0.026 = 0.039


def test_a_bad_line_is_refused_with_its_line_number_and_nothing_is_applied(table):
    day = today() + timedelta(days=1)
    text = card(
        f"outbound,49,DE,landline,Germany,USD,0.030,0,60,60,{day}",
        f"outbound,4x9,DE,landline,Germany,USD,0.030,0,60,60,{day}",
        f"outbound,33,FR,,France,USD,-1,0,60,60,{day}",
        "outbound,33,DE,,France,USD,0.01,0,60,0,2026-13-01",
        f"sms,1,US,,SMS,USD,0.0075,0,,,{day}",
        f"outbound,49,DE,landline,Germany again,USD,0.031,0,60,60,{day}",
        f"outbound,39,IT,landline,Italy,EUR,0.03,0,60,60,{day}",
    )
    with pytest.raises(CardRejected) as refused:
        stage_rate_card(upload(text))
    errors = refused.value.errors
    assert errors[0] == 'line 3: prefix "4x9" is not 1 to 15 digits.'
    assert errors[1].startswith("line 4: the price -1 is not an amount from 0 to 999999")
    assert "line 5: prefix +33 does not start with DE's calling code +49" in errors[2]
    assert "increment seconds" in errors[2] and "is not a date" in errors[2]
    assert errors[3] == "line 6: a sms line is priced by country and has no prefix."
    assert errors[4] == "line 7: outbound +49 is already on line 2."
    assert Rate.objects.count() == 3 and not RateCard.objects.exists()


def test_a_card_of_two_currencies_is_refused():
    with pytest.raises(CardRejected, match=r"one currency; this one has EUR \(line 3\), USD \(line 2\)"):
        read_card(io.StringIO(card("outbound,1,US,,,USD,0.01,0,,,2030-01-01", "outbound,44,GB,,,EUR,0.01,0,,,2030-01-01")))


def test_a_new_price_cannot_start_on_a_day_that_has_begun(table):
    yesterday = today() - timedelta(days=1)
    with pytest.raises(CardRejected) as refused:
        read_and_preview(card(f"outbound,44,GB,,,USD,0.5,0,60,60,{yesterday}"))
    assert refused.value.errors[0].startswith(f"line 2: +44 changes from {yesterday}, a day that has begun")
    # Loading a history before any usage (the demo) may.
    assert len(read_and_preview(card(f"outbound,44,GB,,,USD,0.5,0,60,60,{yesterday}"), allow_past=True).changed) == 1


def test_an_exported_card_imports_back_unchanged(table):
    out = io.StringIO()
    call_command("export_rate_card", "--currency", "USD", stdout=out)
    text = out.getvalue()
    assert text.splitlines()[0] == HEADER.strip()
    assert "outbound,44,GB,,,USD,0.024,0,60,60,2024-01-01" in text.splitlines()
    preview = read_and_preview(text)
    assert preview.unchanged == 3 and not preview.changes_anything


def test_a_line_dropped_from_an_exported_card_ends_today(table):
    out = io.StringIO()
    call_command("export_rate_card", stdout=out)
    text = "".join(line + "\n" for line in out.getvalue().splitlines() if ",44,GB," not in line)
    preview = read_and_preview(text)
    assert [r.prefix for r in preview.removed] == ["44"] and preview.unchanged == 2 and preview.effective_from == today()


def test_the_export_of_a_day_holds_the_lines_of_that_day(table):
    RateFactory(prefix="44", country="GB", per_unit=D("0.030"), effective_from=date(2030, 1, 1))
    Rate.objects.filter(prefix="44", effective_from=date(2024, 1, 1)).update(effective_to=date(2030, 1, 1))
    out = io.StringIO()
    call_command("export_rate_card", "--on", "2025-06-01", stdout=out)
    assert ",44,GB,,,USD,0.024," in out.getvalue() and "0.03," not in out.getvalue()


def test_the_import_command_dry_run_changes_nothing_then_applies(table, tmp_path):
    path = tmp_path / "card.csv"
    path.write_text(new_card(today() + timedelta(days=1)), encoding="utf-8")
    out = io.StringIO()
    call_command("import_rate_card", str(path), "--dry-run", stdout=out)
    assert "1 new, 1 changed, 1 removed, 1 unchanged" in out.getvalue() and "Dry run: nothing was changed." in out.getvalue()
    assert Rate.objects.count() == 3 and not RateCard.objects.exists()
    call_command("import_rate_card", str(path), stdout=io.StringIO())
    assert Rate.objects.count() == 5
    again = io.StringIO()
    call_command("import_rate_card", str(path), stdout=again)
    assert "changes nothing" in again.getvalue() and Rate.objects.count() == 5


def test_the_import_command_names_the_bad_lines(table, tmp_path):
    path = tmp_path / "card.csv"
    path.write_text(card("outbound,44,GB,,,USD,abc,0,60,60,2030-01-01"), encoding="utf-8")
    with pytest.raises(CommandError, match='line 2: the price "abc" is not a number'):
        call_command("import_rate_card", str(path), stdout=io.StringIO())


def test_the_size_is_checked_before_the_file_is_read(table, tmp_path, settings):
    settings.RATE_CARD_MAX_BYTES = 100
    path = tmp_path / "card.csv"
    path.write_text(card(*[f"outbound,44{n},GB,,,USD,0.1,0,60,60,2030-01-01" for n in range(10)]), encoding="utf-8")
    with pytest.raises(CommandError, match="a rate card may be up to 100 bytes"):
        call_command("import_rate_card", str(path), "--dry-run", stdout=io.StringIO())


def test_a_row_too_long_is_refused(table, settings):
    settings.USAGE_IMPORT_MAX_ROW_CHARS = 200
    with pytest.raises(CardRejected, match="line 2: longer than 200 characters"):
        read_card(io.StringIO(card("outbound,44,GB,,," + "x" * 500 + ",USD,0.1,0,60,60,2030-01-01")))


def test_support_previews_then_applies_a_card_in_django_admin(client, admin_user, table):
    client.force_login(admin_user)
    assert "Import a rate card" in client.get(reverse("admin:usage_rate_changelist")).content.decode()
    day = today() + timedelta(days=1)
    response = client.post(reverse("admin:usage_rate_import_card"), {"file": upload(new_card(day))})
    staged = RateCard.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("admin:usage_rate_preview_card", args=[staged.pk])
    page = client.get(response["Location"]).content.decode()
    assert "1 new, 1 changed, 1 removed, 1 unchanged" in page and "Yes, apply the rate card" in page
    assert Rate.objects.count() == 3
    done = client.post(response["Location"], {"apply": "1"}, follow=True)
    assert "Rate card applied from" in done.content.decode()
    assert Rate.objects.count() == 5
    assert client.post(response["Location"], {"apply": "1"}).status_code == 200  # applied once: nothing more to do
    assert Rate.objects.count() == 5


def test_a_bad_card_is_refused_on_the_admin_page_with_its_line_numbers(client, admin_user, table):
    client.force_login(admin_user)
    response = client.post(reverse("admin:usage_rate_import_card"), {"file": upload(card("outbound,44,GB,,,USD,x,0,60,60,2030-01-01"))})
    assert response.status_code == 200
    assert 'line 2: the price &quot;x&quot; is not a number' in response.content.decode()
    assert not RateCard.objects.exists()


def test_a_card_previewed_before_the_table_changed_is_not_applied(client, admin_user, table):
    client.force_login(admin_user)
    day = today() + timedelta(days=1)
    client.post(reverse("admin:usage_rate_import_card"), {"file": upload(new_card(day))})
    staged = RateCard.objects.get()
    RateFactory(prefix="33", country="FR", per_unit=D("0.02"), effective_from=date(2024, 1, 1))  # now one more removed line
    response = client.post(reverse("admin:usage_rate_preview_card", args=[staged.pk]), {"apply": "1"}, follow=True)
    assert "changed since this card was previewed" in response.content.decode()
    assert Rate.objects.count() == 4


def test_support_discards_a_card(client, admin_user, table):
    client.force_login(admin_user)
    client.post(reverse("admin:usage_rate_import_card"), {"file": upload(new_card(today() + timedelta(days=1)))})
    staged = RateCard.objects.get()
    client.post(reverse("admin:usage_rate_preview_card", args=[staged.pk]), {"discard": "1"})
    staged.refresh_from_db()
    assert staged.status == RateCard.Status.DISCARDED and Rate.objects.count() == 3


def test_support_exports_a_card_in_django_admin(client, admin_user, table):
    client.force_login(admin_user)
    response = client.get(reverse("admin:usage_rate_export_card"), {"currency": "USD"})
    assert response["Content-Type"].startswith("text/csv")
    assert "rate-card-USD-" in response["Content-Disposition"]
    assert "toll_free_inbound,,US,,,USD,0.0195,0,60,60,2024-01-01" in response.content.decode()
