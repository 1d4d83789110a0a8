from django import forms

from api.tokens import EXPIRY_DAYS

EXPIRY_CHOICES = [("", "Never")] + [
    (str(days), "1 year" if days == 365 else f"{days} days") for days in EXPIRY_DAYS
]


class TokenForm(forms.Form):
    name = forms.CharField(
        label="Token name",
        max_length=100,
        strip=True,
        help_text="Where you will use it, e.g. “notebook” or “CI”.",
        error_messages={"required": "Give the token a name, so you know later where it is used."},
    )
    expires = forms.TypedChoiceField(
        label="Expires",
        choices=EXPIRY_CHOICES,
        required=False,
        coerce=int,
        empty_value=None,
    )
    private_runs = forms.BooleanField(label="Make its runs private", required=False)
