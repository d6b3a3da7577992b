"""Taking money: funding now, and the shared payment steps that auto-recharge uses too.

The pattern: (1) a payment row with its idempotency key is committed; (2) the gateway is called
outside any transaction with that key; (3) the outcome is recorded in a second transaction that does
nothing if the payment is already final. A retried request or task repeats (2) with the same key and
the gateway answers with the first outcome, so nothing is ever charged or credited twice.
"""

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from billing.choices import EntryKind, PaymentMethodKind, PaymentPurpose, PaymentStatus, ProductKind
from billing.events import PaymentFailed, PaymentSucceeded, announce
from billing.exceptions import BillingError, PurchaseBlocked
from billing.gateways import GatewayError, get_gateway
from billing.gateways.base import describe_failure
from billing.limits import FUNDING_MAX, FUNDING_MIN
from billing.models import CreditAccount, Payment, Product, Receipt, Subscription
from billing.money import to_money
from billing.rules import purchase_blockers
from credits_site.background import backoff_seconds

from .ledger import post_entry

# A payment left in "processing" this long is taken to be from a worker or request that died.
STALE_PROCESSING_AFTER = timedelta(minutes=2)
# A funding payment meeting transient errors is given up (and reported) after this many gateway calls.
MAX_FUNDING_GATEWAY_CALLS = 4
# Retried in the background 30 s after the first failed call, then 60 s, then 120 s.
FUNDING_BACKOFF_BASE_SECONDS = 30
FUNDING_BACKOFF_MAX_SECONDS = 3600


def validate_funding_amount(amount):
    amount = to_money(amount)
    if amount < FUNDING_MIN or amount > FUNDING_MAX:
        raise BillingError(
            f"Enter an amount from {FUNDING_MIN} to {FUNDING_MAX}.", code="amount_out_of_range", field="amount"
        )
    return amount


def start_funding(*, organization, actor, amount, payment_method, idempotency_key, purchase_order="") -> Payment:
    """Record the intent to add funds (committed before any gateway call). Same key, same payment."""
    blockers = purchase_blockers(organization)
    if blockers:
        raise PurchaseBlocked(blockers)
    amount = validate_funding_amount(amount)
    if payment_method.organization_id != organization.pk or payment_method.removed_at is not None:
        raise BillingError("Choose one of your organization's payment methods.", code="bad_payment_method", field="payment_method")
    if payment_method.kind == PaymentMethodKind.ENTERPRISE_AGREEMENT and not purchase_order.strip():
        raise BillingError(
            "Enter the purchase order number to charge to your enterprise agreement.",
            code="purchase_order_required",
            field="purchase_order",
        )
    if payment_method.kind == PaymentMethodKind.CARD and payment_method.expires_before(timezone.now().date()):
        raise BillingError("This card has expired. Add a valid card first.", code="expired_card", field="payment_method")
    account = CreditAccount.objects.get(organization=organization)
    try:
        with transaction.atomic(durable=True):
            payment, created = Payment.objects.get_or_create(
                idempotency_key=idempotency_key,
                defaults=dict(
                    account=account,
                    purpose=PaymentPurpose.FUNDING,
                    amount=amount,
                    currency=account.currency,
                    payment_method=payment_method,
                    purchase_order=purchase_order.strip(),
                    created_by=actor,
                ),
            )
    except IntegrityError:
        payment, created = Payment.objects.get(idempotency_key=idempotency_key), False
    if payment.account_id != account.pk or payment.purpose != PaymentPurpose.FUNDING:
        raise BillingError("This confirmation belongs to another purchase.", code="key_reused")
    if not created and payment.amount != amount:
        raise BillingError("This confirmation was for another amount; start again.", code="key_reused")
    return payment


def claim_payment(payment_id) -> Payment | None:
    """Move a payment to processing if nobody else is working on it; None if someone is, or it is final."""
    now = timezone.now()
    claimed = Payment.objects.filter(pk=payment_id, status=PaymentStatus.PENDING).update(
        status=PaymentStatus.PROCESSING, started_at=now
    )
    if not claimed:
        # A request or worker that died mid-call leaves a stale claim; the same key makes retrying safe.
        claimed = Payment.objects.filter(
            pk=payment_id, status=PaymentStatus.PROCESSING, started_at__lt=now - STALE_PROCESSING_AFTER
        ).update(started_at=now)
    return Payment.objects.select_related("payment_method", "account__organization").get(pk=payment_id) if claimed else None


def call_gateway(payment: Payment):
    """Count the call, then charge the payment's method with its key. Returns (reference, error)."""
    Payment.objects.filter(pk=payment.pk).update(gateway_calls=payment.gateway_calls + 1)
    return charge_at_gateway(payment)


def charge_at_gateway(payment: Payment):
    """Charge with the payment's own key, outside any transaction; the caller has counted the call.

    Returns (reference, None) or (None, GatewayError).
    """
    if transaction.get_connection().in_atomic_block:
        raise RuntimeError("The payment gateway must not be called inside a transaction.")
    method = payment.payment_method
    if method.kind == PaymentMethodKind.ENTERPRISE_AGREEMENT:
        # Invoiced against the agreement with the purchase order: no card to charge.
        return f"ea:{method.agreement_number}:{payment.purchase_order}", None
    try:
        result = get_gateway().charge(
            token=method.gateway_token,
            amount=payment.amount,
            currency=payment.currency,
            idempotency_key=payment.idempotency_key,
            description=f"Communications Credits for {payment.account.organization.name}",
        )
    except GatewayError as error:
        return None, error
    return result.reference, None


def record_payment_success(payment_id, reference) -> Payment:
    with transaction.atomic():
        payment = Payment.objects.select_for_update(of=("self",)).select_related("payment_method", "account").get(pk=payment_id)
        if payment.is_final:
            return payment
        kind = EntryKind.FUNDING if payment.purpose == PaymentPurpose.FUNDING else EntryKind.RECHARGE
        posting = post_entry(
            account_id=payment.account_id,
            kind=kind,
            amount=payment.amount,
            idempotency_key=f"payment:{payment.idempotency_key}",
            memo=f"{payment.get_purpose_display()} paid with {payment.payment_method.label}",
            reference=reference,
            actor=payment.created_by,
        )
        now = timezone.now()
        payment.status = PaymentStatus.SUCCEEDED
        payment.gateway_reference = reference
        payment.entry = posting.entry
        payment.finished_at = now
        payment.failure_code = payment.failure_message = ""
        payment.next_retry_at = None
        payment.save(
            update_fields=["status", "gateway_reference", "entry", "finished_at", "failure_code", "failure_message", "next_retry_at"]
        )
        receipt = Receipt.objects.create(
            number=f"CC-{now:%Y%m}-{posting.entry.pk:08d}",
            account=payment.account,
            entry=posting.entry,
            amount=payment.amount,
            currency=payment.currency,
            paid_with=payment.payment_method.label,
            purchase_order=payment.purchase_order,
            issued_at=now,
        )
        # Funding adds the Communications Credits license to the organization (shown as unlimited).
        credits_product = Product.objects.filter(kind=ProductKind.COMMUNICATIONS_CREDITS).first()
        if credits_product is not None:
            Subscription.objects.get_or_create(
                organization_id=payment.account.organization_id, product=credits_product, defaults={"quantity": 0}
            )
        announce(PaymentSucceeded(account=payment.account, payment=payment, receipt=receipt))
        return payment


def record_payment_failure(
    payment_id, error: GatewayError, *, final=True, retry_at=None, announce_failure=True
) -> Payment:
    """`announce_failure=False` records a final failure without `PaymentFailed`: auto-recharge announces
    only the first failure of a streak, so an admin hears of a failing card once, not at every attempt."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update(of=("self",)).select_related("account").get(pk=payment_id)
        if payment.is_final:
            return payment
        payment.failure_code = error.code
        payment.failure_message = error.message[:300]
        if final:
            payment.status = PaymentStatus.FAILED
            payment.finished_at = timezone.now()
            payment.next_retry_at = None
        else:
            # Transient: back to pending, to be tried again with the same key at retry_at.
            payment.status = PaymentStatus.PENDING
            payment.next_retry_at = retry_at
        payment.save(update_fields=["status", "failure_code", "failure_message", "finished_at", "next_retry_at"])
        if final and announce_failure:
            announce(PaymentFailed(account=payment.account, payment=payment))
        return payment


def process_funding(payment_id) -> Payment:
    """Charge a funding payment once. Safe to call again (double submit, browser retry)."""
    payment = claim_payment(payment_id)
    if payment is None:
        return Payment.objects.get(pk=payment_id)
    reference, error = call_gateway(payment)
    if error is None:
        return record_payment_success(payment.pk, reference)
    if error.transient and payment.gateway_calls + 1 < MAX_FUNDING_GATEWAY_CALLS:
        # The processor may or may not have charged: only the same key can tell. Retried in the
        # background with that key (retry_pending_fundings); the page says so meanwhile.
        calls = payment.gateway_calls + 1
        delay = backoff_seconds(calls, base=FUNDING_BACKOFF_BASE_SECONDS, cap=FUNDING_BACKOFF_MAX_SECONDS)
        retry_at = timezone.now() + timedelta(seconds=delay)
        return record_payment_failure(payment.pk, error, final=False, retry_at=retry_at)
    return record_payment_failure(payment.pk, error, final=True)


def retry_pending_fundings(now=None, limit=200) -> int:
    """Finish funding payments left behind: a transient error due for retry, or a request that died
    mid-call (stale processing). Each is charged with its own key, so nothing is charged twice."""
    now = now or timezone.now()
    due = Payment.objects.filter(purpose=PaymentPurpose.FUNDING).filter(
        Q(status=PaymentStatus.PENDING, next_retry_at__lte=now)
        | Q(status=PaymentStatus.PROCESSING, started_at__lt=now - STALE_PROCESSING_AFTER)
    )
    ids = list(due.order_by("pk").values_list("pk", flat=True)[:limit])
    for payment_id in ids:
        process_funding(payment_id)
    return len(ids)


def fund_credits(*, organization, actor, amount, payment_method, idempotency_key, purchase_order="") -> Payment:
    """Add funds now: record the payment, charge it once, credit the ledger and issue a receipt."""
    payment = start_funding(
        organization=organization,
        actor=actor,
        amount=amount,
        payment_method=payment_method,
        idempotency_key=idempotency_key,
        purchase_order=purchase_order,
    )
    return process_funding(payment.pk)


def failure_explanation(payment: Payment) -> tuple[str, str]:
    message, fix = describe_failure(payment.failure_code)
    return payment.failure_message or message, fix
