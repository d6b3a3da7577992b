"""What differs between calls and SMS for the import: the model, the value specs, the time field, the
rater, and the last checks of a record."""

from ...choices import Direction, RecordKind, is_inbound
from ...models import CallRecord, SmsRecord
from ..cleaning import CALL_SPECS, SMS_SPECS, RowError, compile_cleaner, copy_text_key
from ..rating import rate_call, rate_sms


def _defaults(model):
    defaults = {}
    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        if f.null:
            defaults[f.attname] = None
        elif f.has_default():
            defaults[f.attname] = f.get_default()
        else:
            defaults[f.attname] = ""
    return defaults


class Kind:
    """What differs between calls and SMS: the model, the value specs, the time field, the rater."""

    def __init__(self, model, specs, time_field, rater, finish):
        self.model = model
        self.specs = specs
        self.time_field = time_field
        self.rater = rater
        self.finish = finish
        self.defaults = _defaults(model)
        self.columns = list(self.defaults)
        self.time_columns = [f.attname for f in model._meta.concrete_fields if f.get_internal_type() == "DateTimeField"]
        self.defaults.update({copy_text_key(c): None for c in self.time_columns})
        self._cleaners = {}

    def cleaner(self, layout):
        key = tuple(layout.mapping)
        if key not in self._cleaners:
            self._cleaners[key] = compile_cleaner(self.specs, layout.mapping, self.defaults)
        return self._cleaners[key]


def _finish_call(record, label, column_names, errors):
    if not record["direction"]:
        record["direction"] = Direction.INBOUND if is_inbound(record["call_type"]) else Direction.OUTBOUND
    end = record["end_time"]
    if end is not None and end < record["start_time"]:
        errors.append(RowError(label, column_names.get("end_time", "End Time"), "is before the start time."))
        return False
    return True


def _finish_sms(record, label, column_names, errors):
    return True


CALLS = Kind(CallRecord, CALL_SPECS, "start_time", rate_call, _finish_call)
MESSAGES = Kind(SmsRecord, SMS_SPECS, "sent_time", rate_sms, _finish_sms)
KINDS = {RecordKind.PSTN: CALLS, RecordKind.SMS: MESSAGES}
