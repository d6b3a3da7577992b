"""JSON endpoints for machines, with a key per organization (`Authorization: Bearer <key>`).

- POST pstn-calls/ and sms/: rows as Microsoft Graph's getPstnCalls / getSmsLog return them; a
  whole page with `value` (and its @odata keys) is accepted as is, so a script that reads Graph can
  forward its pages unchanged. The same service as the upload page: all or nothing, idempotent.
- GET authorize/?user=<UPN>&number=<E.164>: may this user call this number now, and for how many
  minutes the pool, the balance and the spend guard allow; `rule` names the spend guard's rule that
  decided (a destination rule, a credit block or a cap), or is null.
- GET rate-lookup/?number=<any format> (or ?country=<ISO 3166>&number_type=<type>), optionally &user=<UPN>:
  the rate lookup of Billing > Communications Credits > Rate lookup, as JSON.
"""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from .choices import RecordKind
from .models import ApiToken
from .selectors.phone_numbers import NumberProblem, example_destination, parse_number
from .selectors.rate_lookup import look_up_rate
from .services.api_keys import hash_key
from .services.ingest import ImportRejected, import_graph_payload
from .services.rating import authorize_call
from .services.sources import SourceError, parse_json


def token_from(request):
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return None
    token = (
        ApiToken.objects.select_related("organization")
        .filter(key_hash=hash_key(key.strip()), revoked_at__isnull=True)
        .first()
    )
    if token is not None:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token


def unauthorized():
    response = JsonResponse(
        {"error": "unauthorized", "message": "Send an organization's usage API key as `Authorization: Bearer <key>`."}, status=401
    )
    response["WWW-Authenticate"] = 'Bearer realm="usage"'
    return response


def refused_body(status, problem):
    """A request body that is not a Graph page (not JSON, nested too deeply, too large): JSON, like every answer here."""
    return JsonResponse({"imported": False, "errors": [{"row": "", "column": "", "problem": problem}]}, status=status)


@method_decorator(csrf_exempt, name="dispatch")
class TokenView(View):
    """Key-authenticated: no session, no cookies, so no CSRF token either."""

    def dispatch(self, request, *args, **kwargs):
        self.token = token_from(request)
        if self.token is None:
            return unauthorized()
        self.organization = self.token.organization
        return super().dispatch(request, *args, **kwargs)

    def http_method_not_allowed(self, request, *args, **kwargs):
        response = super().http_method_not_allowed(request, *args, **kwargs)
        allowed = response["Allow"]
        response = JsonResponse({"error": "method_not_allowed", "message": f"Use {allowed}."}, status=405)
        response["Allow"] = allowed
        return response


class IngestView(TokenView):
    kind = RecordKind.PSTN

    def post(self, request):
        try:
            payload = parse_json(request.body)
        except RequestDataTooBig:
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            return refused_body(413, f"The body is larger than {limit:,} bytes: send one Graph page (1,000 rows) at a time.")
        except SourceError as exc:
            return refused_body(400, exc.problem)
        try:
            result = import_graph_payload(self.organization, payload, self.kind, origin="api")
        except ImportRejected as rejected:
            return JsonResponse(
                {"imported": False, "message": str(rejected), "errors": [e.as_dict() for e in rejected.errors], "truncated": rejected.truncated},
                status=400,
            )
        return JsonResponse({"imported": True, **result.as_dict()}, status=201 if result.created else 200)


class SmsIngestView(IngestView):
    kind = RecordKind.SMS


class AuthorizeView(TokenView):
    def get(self, request):
        upn = request.GET.get("user", "").strip()
        number = request.GET.get("number", "").strip()
        if not upn or not number:
            return JsonResponse({"error": "bad_request", "message": "Give ?user=<UPN>&number=<E.164 number>."}, status=400)
        decision = authorize_call(self.organization, upn=upn, number=number, at=timezone.now())
        return JsonResponse(
            {
                "allowed": decision.allowed,
                "minutes": decision.minutes,
                "included_minutes": decision.included_minutes,
                "rate_per_minute": str(decision.rate_per_minute) if decision.rate_per_minute is not None else None,
                "currency": decision.currency,
                "reason": decision.reason,
                "rule": decision.rule,
            }
        )


class RateLookupView(TokenView):
    """What a call to a number costs the organization today and who pays for it (selectors.rate_lookup)."""

    def get(self, request):
        number = request.GET.get("number", "").strip()
        country = request.GET.get("country", "").strip()
        number_type = request.GET.get("number_type", "").strip()
        try:
            if number:
                destination = parse_number(number, self.organization.country)
            elif country or number_type:
                destination = example_destination(country, number_type or "fixed_line")
            else:
                raise NumberProblem("number", "Give ?number=<phone number>, or ?country=<ISO 3166 code>&number_type=<type>.")
            answer = look_up_rate(self.organization, destination, upn=request.GET.get("user", ""))
        except NumberProblem as problem:
            return JsonResponse({"error": "bad_request", "message": f"{problem.field}: {problem.message}"}, status=400)
        return JsonResponse(answer.as_dict())
