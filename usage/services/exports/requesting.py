"""What the report's page asks for: a small export is built at once; a large one is recorded and its
task enqueued (through usage.tasks), to be built by jobs.py."""

import os
import tempfile
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ...choices import ExportFormat, ExportStatus
from ...models import Export
from ...selectors.report import usage_version
from ...tasks import enqueue_export_on_commit
from .files import build_file, export_filename

EXPORT_LIFETIME = timedelta(days=7)
# A built export is handed out again only while it stays downloadable for at least this long.
REUSE_LEFT = timedelta(days=1)


def immediate_limit():
    """How many rows an export may hold to be built in the request."""
    return getattr(settings, "USAGE_EXPORT_IMMEDIATE_ROWS", 5_000)


def build_immediate(organization, export_format, parameters):
    """A small export, built now: returns (open file at its start, filename, size)."""
    public_id = uuid.uuid4()
    fd, path = tempfile.mkstemp(suffix=".export")
    os.close(fd)
    try:
        build_file(organization, export_format, parameters, path, public_id=public_id)
        handle = open(path, "rb")  # noqa: SIM115 - the response closes it
        size = os.path.getsize(path)
    finally:
        # The open handle keeps the data readable; the name goes now, so nothing is left behind.
        os.unlink(path)
    name = export_filename(export_format, parameters["kind"], public_id, parameters["start"], parameters["end"])
    return handle, name, size


def reusable_export(organization, export_format, parameters, now=None):
    """A built export of the same records, format, range and filters, read at the organization's
    current usage version (no import or purge since) and downloadable for at least another day, or None.

    The cost-allocation workbook is always built again: it reads people's departments and pools too."""
    if export_format == ExportFormat.ALLOCATION:
        return None
    now = now or timezone.now()
    return (
        Export.objects.filter(
            organization=organization,
            kind=parameters["kind"],
            format=export_format,
            parameters=parameters,
            status=ExportStatus.DONE,
            usage_version=usage_version(organization.pk),
            expires_at__gt=now + REUSE_LEFT,
        )
        .order_by("-finished_at", "-pk")
        .first()
    )


def export_in_background(*, organization, user, export_format, parameters, rows_total):
    """(export, reused): the built export of the same records that can be handed out again, or a new
    one recorded and enqueued."""
    built = reusable_export(organization, export_format, parameters)
    if built is not None:
        return built, True
    return request_export(
        organization=organization, user=user, export_format=export_format, parameters=parameters, rows_total=rows_total
    ), False


def request_export(*, organization, user, export_format, parameters, rows_total):
    """Record a background export and enqueue its task once the record is committed."""
    with transaction.atomic():
        export = Export.objects.create(
            organization=organization,
            created_by=user,
            kind=parameters["kind"],
            format=export_format,
            parameters=parameters,
            rows_total=rows_total,
            expires_at=timezone.now() + EXPORT_LIFETIME,
        )
        enqueue_export_on_commit(export.pk)
    return export
