"""Spike detection: unusual calling found at the end of every call import, as incidents for admins.

Each import tallies its outbound calls while it rates them (watch.SpendWatch, a few dictionary updates
a call), adds them to the organization's hourly figures (HourlyCalls) and compares each hour with the
organization's own trailing baseline: the same hour of the day over the last
SPEND_DETECTION_BASELINE_DAYS days (detectors.py says what each detector looks for). Findings about the
same burst are one incident; a new incident is announced once (usage.events.SpendIncidentOpened, an
email to the admins in the billing roles and an entry in the Message center); a later import seeing
more of it adds to the open incident silently. Thresholds: thresholds.py (the SPEND_DETECTION_* settings).

The rooms: thresholds.py, baseline.py (the hourly figures and the baseline reads), detectors.py
(pure functions), incidents.py (grouping, recording, announcing, dismissing), watch.py (what the
import calls), actions.py (the one-click answers of the incident page); usage.services.fraud_simulation imports a simulated
toll-fraud burst for the demo and the tests.
"""

from . import actions as incident_actions
from .incidents import dismiss_incident, mark_actioned
from .thresholds import Thresholds, current
from .watch import SpendWatch

__all__ = ["SpendWatch", "Thresholds", "current", "dismiss_incident", "incident_actions", "mark_actioned"]
