from django import forms
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_variables

from .limits import (
    FUNDING_MAX,
    FUNDING_MIN,
    RECHARGE_AMOUNT_MAX,
    RECHARGE_AMOUNT_MIN,
    RECHARGE_TRIGGER_MAX,
    RECHARGE_TRIGGER_MIN,
)
from .money import CENT


def money_input(min_value, max_value, **kwargs):
    return forms.DecimalField(
        min_value=min_value,
        max_value=max_value,
        max_digits=12,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": str(CENT), "min": str(min_value), "max": str(max_value)}),
        **kwargs,
    )


class ReadOnceChoices(forms.models.ModelChoiceIterator):
    """A form's payment methods read in one query, however often the form and its template ask.
    Django's iterator asks the database each time it is iterated (through a server-side cursor),
    counted or tested for truth: with the first one picked as the initial choice, the add-funds page
    read its organization's payment methods four times."""

    def __init__(self, field):
        super().__init__(field)
        self.objects = None

    def listed(self):
        if self.objects is None:
            self.objects = list(self.queryset)
        return self.objects

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.listed():
            yield self.choice(obj)

    def __len__(self):
        return len(self.listed()) + (self.field.empty_label is not None)

    def __bool__(self):
        return self.field.empty_label is not None or bool(self.listed())


class PaymentMethodChoiceField(forms.ModelChoiceField):
    iterator = ReadOnceChoices

    def label_from_instance(self, obj):
        return obj.label

    @property
    def methods(self):
        """The payment methods offered, as the widget shows them (read once, see ReadOnceChoices)."""
        return self.widget.choices.listed()


class AddFundsForm(forms.Form):
    amount = money_input(
        FUNDING_MIN,
        FUNDING_MAX,
        label="Amount",
        help_text=f"From {FUNDING_MIN:,.2f} to {FUNDING_MAX:,.2f}. Each purchase expires 12 months after you buy it.",
    )
    payment_method = PaymentMethodChoiceField(
        queryset=None, label="Pay with", empty_label=None, widget=forms.RadioSelect
    )
    purchase_order = forms.CharField(
        label="Purchase order number",
        required=False,
        max_length=64,
        help_text="Required when you pay against your enterprise agreement.",
    )

    def __init__(self, *args, payment_methods, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["payment_method"]
        field.queryset = payment_methods
        if field.methods:
            field.initial = field.methods[0].pk

    def clean(self):
        data = super().clean()
        method = data.get("payment_method")
        if method and method.kind == "enterprise_agreement" and not data.get("purchase_order", "").strip():
            self.add_error("purchase_order", "Enter the purchase order number to charge to your enterprise agreement.")
        if method and method.kind == "card" and method.expires_before(timezone.now().date()):
            self.add_error("payment_method", "This card has expired. Add a valid card first.")
        return data


class AutoRechargeForm(forms.Form):
    enabled = forms.BooleanField(label="Auto recharge", required=False, help_text="Top up the balance automatically.")
    recharge_amount = money_input(
        RECHARGE_AMOUNT_MIN,
        RECHARGE_AMOUNT_MAX,
        label="Recharge with",
        required=False,
        help_text=f"From {RECHARGE_AMOUNT_MIN:,.2f} to {RECHARGE_AMOUNT_MAX:,.2f}. Start small (for example 50.00) and tune it after a month or two of usage.",
    )
    recharge_trigger = money_input(
        RECHARGE_TRIGGER_MIN,
        RECHARGE_TRIGGER_MAX,
        label="When the balance falls below",
        required=False,
        help_text=f"From {RECHARGE_TRIGGER_MIN:,.2f} to {RECHARGE_TRIGGER_MAX:,.2f}, and lower than the recharge amount.",
    )
    payment_method = PaymentMethodChoiceField(queryset=None, label="Charge this card", required=False, empty_label="Choose a card")
    monthly_cap = money_input(
        RECHARGE_AMOUNT_MIN,
        RECHARGE_AMOUNT_MAX * 10,
        label="Monthly limit",
        required=False,
        help_text="Auto-recharge stops for the rest of the month once this much has been charged. Leave empty for no limit.",
    )

    def __init__(self, *args, cards, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["payment_method"].queryset = cards
        # Needed only when auto recharge is on: the service checks that; the label must not say "optional".
        for name in ("recharge_amount", "recharge_trigger", "payment_method"):
            self.fields[name].conditionally_required = True


class AddCardForm(forms.Form):
    number = forms.CharField(
        label="Card number",
        max_length=23,
        widget=forms.TextInput(attrs={"autocomplete": "cc-number", "inputmode": "numeric"}),
        help_text="Sandbox: 4242 4242 4242 4242 succeeds; see README for cards that decline.",
    )
    exp_month = forms.IntegerField(label="Expiry month", min_value=1, max_value=12, widget=forms.NumberInput(attrs={"autocomplete": "cc-exp-month"}))
    exp_year = forms.IntegerField(label="Expiry year", min_value=2000, max_value=2100, widget=forms.NumberInput(attrs={"autocomplete": "cc-exp-year"}))
    cvc = forms.CharField(
        label="Security code (CVC)", min_length=3, max_length=4, widget=forms.PasswordInput(attrs={"autocomplete": "cc-csc", "inputmode": "numeric"})
    )

    @method_decorator(sensitive_variables("number"))
    def clean_number(self):
        number = "".join(ch for ch in self.cleaned_data["number"] if ch.isdigit())
        if not 12 <= len(number) <= 19:
            raise forms.ValidationError("Enter the 12 to 19 digits of the card number.")
        return number


class AgreementForm(forms.Form):
    agreement_number = forms.CharField(label="Enterprise agreement number", max_length=64)
