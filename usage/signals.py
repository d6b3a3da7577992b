"""What usage announces, without knowing who listens (notifications connects to these).

export_ready: organization, requested_by, export_id, download_path, description, row_count,
file_name, expires_at. Sent inside the transaction that marks the export ready.
"""

from django.dispatch import Signal

export_ready = Signal()
