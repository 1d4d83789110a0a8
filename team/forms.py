"""The team's forms: sign-in with a rate limit, new accounts, invites, the team policy."""

import re
from decimal import Decimal

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.core.exceptions import ValidationError

from gallery import catalog
from team import backends
from team.services import email_in_domain

INVITE_DAYS = [(1, "1 day"), (7, "7 days"), (30, "30 days")]
DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class RateLimitedAuthenticationForm(AuthenticationForm):
    """Django's sign-in form, saying so when the rate limit refused the attempt (the limit
    itself is in the authentication backend, team/backends.py, which every form goes through)."""

    def get_invalid_login_error(self) -> ValidationError:
        if refusal := backends.signin_refusal(self.request):
            return ValidationError(refusal, code="rate_limited")
        return super().get_invalid_login_error()


class AccountForm(UserCreationForm):
    """A new member's username, email and password (typed twice, Django's validators). The form
    only validates; a service creates the account."""

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def __init__(self, *args, fixed_email: str = "", email_domain: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.email_domain = email_domain
        email = self.fields["email"]
        if fixed_email:
            # The invite names the address; the account gets it without asking.
            del self.fields["email"]
            self.instance.email = fixed_email
        elif email_domain:
            email.required = True
            email.label = "Email"
            email.help_text = f"An address ending in @{email_domain}."
        else:
            email.label = "Email (optional)"
        if "email" in self.fields:
            self.fields["email"].widget.attrs["autocomplete"] = "email"
        self.fields["username"].widget.attrs["autocomplete"] = "username"

    def clean_email(self) -> str:
        email = self.cleaned_data.get("email", "").strip()
        if self.email_domain and not email_in_domain(email, self.email_domain):
            raise ValidationError(f"Use an email address ending in @{self.email_domain}.")
        return email

    def add_service_errors(self, exc: ValidationError) -> None:
        """Put a service's errors on the matching fields (password rules on the second box)."""
        fields = {"password": "password2"}
        for name, messages in exc.message_dict.items():
            field = fields.get(name, name)
            self.add_error(field if field in self.fields else None, messages)


class InviteForm(forms.Form):
    email = forms.EmailField(
        required=False,
        label="Email (optional)",
        help_text="If you fill it in, the account must use this address.",
    )
    days = forms.TypedChoiceField(
        choices=INVITE_DAYS, coerce=int, initial=7, label="Link works for"
    )


class MemberActiveForm(forms.Form):
    active = forms.TypedChoiceField(choices=[("1", "Reactivate"), ("0", "Deactivate")], coerce=int)


def catalog_groups() -> list[tuple[str, list[catalog.ModelSpec]]]:
    """The catalog's gateway models that may be offered (not the offline renderer, not a
    deactivated one), grouped by provider."""
    groups: dict[str, list[catalog.ModelSpec]] = {}
    for spec in catalog.catalog_models().values():
        groups.setdefault(spec.provider or "Other", []).append(spec)
    return list(groups.items())


class PolicyForm(forms.Form):
    scope = forms.ChoiceField(
        choices=[("all", "All models"), ("only", "Only the models ticked below")],
        widget=forms.RadioSelect,
        initial="all",
        label="Models the team sees",
    )
    models = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    daily_image_limit = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=100_000,
        label="Images per person per day",
        help_text="Empty: no limit.",
    )
    monthly_budget_usd = forms.DecimalField(
        required=False,
        min_value=Decimal(0),
        max_digits=12,
        decimal_places=2,
        label="Monthly team budget (USD)",
        help_text="Empty: no limit.",
    )
    signup_domain = forms.CharField(
        required=False,
        max_length=253,
        label="Sign-up domain",
        help_text="Anyone with an address here may create an account. Empty: invites only.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["models"].choices = [
            (provider, [(spec.id, spec.label) for spec in specs])
            for provider, specs in catalog_groups()
        ]

    @classmethod
    def for_policy(cls, policy) -> "PolicyForm":
        return cls(
            initial={
                "scope": "only" if policy.allowed_models else "all",
                "models": policy.allowed_models,
                "daily_image_limit": policy.daily_image_limit,
                "monthly_budget_usd": policy.monthly_budget_usd,
                "signup_domain": policy.signup_domain,
            }
        )

    def clean_signup_domain(self) -> str:
        domain = self.cleaned_data["signup_domain"].strip().lstrip("@").lower()
        if domain and not DOMAIN.match(domain):
            raise ValidationError(f"“{domain}” is not a domain; write it like example.com.")
        return domain

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("scope") == "only" and not cleaned.get("models"):
            self.add_error("models", "Tick at least one model, or choose All models.")
        return cleaned

    def allowed_model_ids(self) -> list[str]:
        return [] if self.cleaned_data["scope"] == "all" else self.cleaned_data["models"]

    def selected_models(self) -> set[str]:
        """The ticked boxes as the page should show them (the posted ones after an error)."""
        if self.is_bound:
            return set(self.data.getlist("models"))
        return set(self.initial.get("models") or ())
