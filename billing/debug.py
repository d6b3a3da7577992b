"""Error reports never show a card number or a security code, whichever frame or form holds them.

Django's sensitive_* decorators protect the functions they decorate; this filter also protects the
frames nobody thought to decorate (a third-party gateway, a form's internals).
"""

from django.views.debug import SafeExceptionReporterFilter

CARD_FIELDS = frozenset({"number", "card_number", "cvc", "cvv", "pan"})


class CardSafeExceptionReporterFilter(SafeExceptionReporterFilter):
    def get_post_parameters(self, request):
        params = super().get_post_parameters(request)
        if request is None or not any(k in params for k in CARD_FIELDS):
            return params
        cleansed = params.copy()
        for key in CARD_FIELDS & set(cleansed):
            cleansed[key] = self.cleansed_substitute
        return cleansed

    def get_traceback_frame_variables(self, request, tb_frame):
        variables = super().get_traceback_frame_variables(request, tb_frame)
        return [
            (name, self.cleansed_substitute if name in CARD_FIELDS or name in ("data", "cleaned_data") and _holds_card(value) else value)
            for name, value in variables
        ]


def _holds_card(value):
    return isinstance(value, dict) and any(k in value for k in CARD_FIELDS)
