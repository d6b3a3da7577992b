"""How far an export's writing got, kept on its status record for the page's progress bar."""

from django.utils import timezone

from ...models import Export

PROGRESS_EVERY = 10_000


class Progress:
    """Counts rows and tells the status record every PROGRESS_EVERY rows (a one-row UPDATE)."""

    def __init__(self, export=None):
        self.export = export
        self.done = 0

    def tick(self, count=1):
        before = self.done
        self.done += count
        if self.export is not None and self.done // PROGRESS_EVERY != before // PROGRESS_EVERY:
            Export.objects.filter(pk=self.export.pk).update(rows_done=self.done, heartbeat_at=timezone.now())
