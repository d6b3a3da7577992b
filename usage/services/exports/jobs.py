"""The background export, as its task (usage.tasks) runs it: claimed once, built, announced; and the
clean-up of exports past their 7 days."""

import logging
import os
import tempfile
from datetime import timedelta

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from ...choices import ExportStatus
from ...events import ExportReady, announce
from ...models import Export
from ...selectors.report import usage_version
from .files import build_file, export_filename
from .progress import Progress

logger = logging.getLogger(__name__)


# A pending export's task is normally on its way; after this long the sweep sends another (the claim
# makes a second one harmless).
WAITING_AFTER = timedelta(minutes=1)


def _claimable(now):
    # A build tells its progress every PROGRESS_EVERY rows (seconds apart); one that has not for this long
    # lost its worker. Measured from the last progress, not the start: a kill -9 of a worker left its
    # export "Building" for 4 hours (bench/faults.py), and with Redis the task's message is redelivered
    # only after the broker's visibility timeout (an hour), to a claim that refused it.
    stale = now - timedelta(seconds=settings.USAGE_EXPORT_STALE_SECONDS)
    return Q(status=ExportStatus.PENDING) | Q(status=ExportStatus.RUNNING, heartbeat_at__lt=stale) | Q(
        status=ExportStatus.RUNNING, heartbeat_at__isnull=True, started_at__lt=stale
    )


def claim(export_id, now=None):
    """Take a pending export (or one whose build has not moved for USAGE_EXPORT_STALE_SECONDS: its worker
    died); exactly one worker gets it."""
    now = now or timezone.now()
    claimed = Export.objects.filter(pk=export_id).filter(_claimable(now)).update(
        status=ExportStatus.RUNNING, started_at=now, heartbeat_at=now, rows_done=0
    )
    return claimed == 1


def waiting_exports(now=None, limit=100) -> list[int]:
    """Exports whose task was lost (the broker was down when it was asked for, a message dropped) or
    whose worker died mid-build: the sweep builds them, oldest first."""
    now = now or timezone.now()
    waiting = Export.objects.filter(_claimable(now)).exclude(status=ExportStatus.PENDING, created_at__gt=now - WAITING_AFTER)
    return list(waiting.order_by("created_at", "pk").values_list("pk", flat=True)[:limit])


def build_export(export_id):
    """Build a background export. Safe to run twice: only a pending export is claimed."""
    if not claim(export_id):
        return None
    export = Export.objects.select_related("organization").get(pk=export_id)
    # Read before the records: an import committed after this raises the version, so this file is never
    # handed out again as holding what it did not read (requesting.reusable_export).
    export.usage_version = usage_version(export.organization_id)
    Export.objects.filter(pk=export_id).update(usage_version=export.usage_version)
    fd, path = tempfile.mkstemp(suffix=".export")
    os.close(fd)
    try:
        count = build_file(
            export.organization, export.format, export.parameters, path, public_id=export.public_id, progress=Progress(export)
        )
        name = export_filename(export.format, export.kind, export.public_id, export.parameters["start"], export.parameters["end"])
        with open(path, "rb") as built:
            export.file.save(f"{export.public_id}/{name}", File(built, name=name), save=False)
        size = os.path.getsize(path)
    except Exception as exc:
        logger.exception("Export %s failed", export_id)
        Export.objects.filter(pk=export_id).update(
            status=ExportStatus.FAILED, error=f"The export could not be built ({type(exc).__name__}).", finished_at=timezone.now()
        )
        raise
    finally:
        os.unlink(path)
    with transaction.atomic():
        Export.objects.filter(pk=export_id).update(
            status=ExportStatus.DONE,
            file=export.file.name,
            filename=name,
            size_bytes=size,
            rows_done=count,
            rows_total=count,
            finished_at=timezone.now(),
        )
        announce_export_ready(export, file_name=name, row_count=count)
    return export.pk


def announce_export_ready(export, *, file_name, row_count):
    """Tell whoever listens that `export` is ready (notifications e-mails the admin who asked); called
    inside the transaction that marks it done, so a rollback takes the announcement with it."""
    announce(
        ExportReady(
            organization=export.organization,
            requested_by=export.created_by,
            export_id=str(export.public_id),
            download_path=reverse("usage:export_file", args=[export.public_id]),
            description=f"{export.get_format_display()} of {export.parameters['start']} to {export.parameters['end']}",
            row_count=row_count,
            file_name=file_name,
            expires_at=export.expires_at,
        )
    )


def delete_expired_exports(now=None):
    """Remove exports (and their files) older than 7 days; returns how many."""
    now = now or timezone.now()
    removed = 0
    for export in Export.objects.filter(expires_at__lte=now).only("pk", "file"):
        if export.file:
            export.file.delete(save=False)
        export.delete()
        removed += 1
    return removed
