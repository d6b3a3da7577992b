"""The OpenAPI 3.1 document of the JSON endpoints (usage/openapi.json, kept beside the code and
checked by tests/usage/test_openapi*.py): no sign-in, no tenant data, the same for everyone."""

import json
from pathlib import Path

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

SCHEMA_PATH = Path(__file__).with_name("openapi.json")
# Read once: the document changes only with the code, hence with a new process.
SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@login_not_required
# Nothing to protect (it reads nothing of a session and changes nothing), and without the exemption
# the CSRF check would answer 403 to other methods before require_safe answers 405.
@csrf_exempt
@require_safe
def openapi_schema(request):
    return JsonResponse(SCHEMA)
