"""Getting in, and being refused: the first-run setup, the sign-in pages, invite links and
sign-up (all open without an account), and the pages for refused requests (a form that could
not be verified, a 403, a 404). The team's own pages are in team/views.py."""

from django.contrib import admin
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import LoginView, redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from gallery import views as gallery_views
from studio.responses import message_response
from team import services
from team.forms import AccountForm, RateLimitedAuthenticationForm
from team.middleware import any_user_exists
from team.models import TeamPolicy

# --- the first account ------------------------------------------------------------------------


@login_not_required
@require_http_methods(["GET", "POST"])
def setup(request):
    """Create the first (admin) account; gone once any account exists."""
    if any_user_exists():
        raise Http404("The studio is already set up.")
    form = AccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.first_admin_create(
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
            )
        except services.TeamError as exc:  # another setup page was sent first
            form.add_error(None, exc.message)
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            login(request, user)
            return redirect("studio")
    return render(request, "team/setup.html", {"form": form})


# --- signing in -------------------------------------------------------------------------------


class SignInView(LoginView):
    """Django's sign-in page with the rate limit (see team/signin_limit.py)."""

    authentication_form = RateLimitedAuthenticationForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["signup_domain"] = TeamPolicy.current().signup_domain
        return context


@login_not_required
def admin_sign_in(request):
    """Django admin's sign-in page is the studio's, so there is one page to sign in on.

    Signed-in members who are not admins are told so: sending them to the sign-in page would
    bounce them straight back to the admin, and round again.
    """
    if request.user.is_authenticated and not admin.site.has_permission(request):
        raise PermissionDenied("Only the studio's admins can open the admin pages.")
    return redirect_to_login(request.GET.get("next") or reverse("admin:index"))


# --- invites and sign-up ----------------------------------------------------------------------


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def invite_accept(request, token: str):
    try:
        invite = services.invite_for_token(token=token)
    except services.InviteUnusable as exc:
        return _invite_refused(request, exc)
    form = AccountForm(request.POST or None, fixed_email=invite.email)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.invite_accept(
                token=token,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
                email=form.cleaned_data.get("email", ""),
            )
        except services.InviteUnusable as exc:
            return _invite_refused(request, exc)
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            login(request, user)
            return redirect("studio")
    return render(request, "team/invite.html", {"form": form, "invite": invite})


def _invite_refused(request, exc: services.InviteUnusable) -> HttpResponse:
    # Unknown links are "not found"; links that existed but can no longer be used are "gone".
    status = 404 if exc.reason == "unknown" else 410
    return message_response(
        request, title="This invite can't be used", message=exc.message, status=status
    )


@login_not_required
@require_http_methods(["GET", "POST"])
def signup(request):
    domain = TeamPolicy.current().signup_domain
    if not domain:
        raise Http404("Sign-up is closed.")
    form = AccountForm(request.POST or None, email_domain=domain)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.signup_create(
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            login(request, user)
            return redirect("studio")
    return render(request, "team/signup.html", {"form": form, "domain": domain})


# --- refused requests (settings.CSRF_FAILURE_VIEW, handler403, handler404) ---------------------

UNVERIFIED = (
    "The form could not be verified (it was open too long, or you signed in elsewhere), so "
    "nothing was started."
)


@login_not_required
def csrf_failure(request, reason: str = ""):
    """A clear message instead of Django's bare 403 page; nothing has been written. A prompt
    sent to Generate comes back in the prompt box, as typed, which the gallery draws."""
    if request.path == reverse("run_create") and request.user.is_authenticated:
        return gallery_views.run_create_unverified(
            request, message=f"{UNVERIFIED} Press Generate again."
        )
    return message_response(request, title="Please try again", message=UNVERIFIED, status=403)


def permission_denied(request, exception=None):
    message = str(exception) if exception and str(exception) else "You may not do that."
    return message_response(request, title="Not allowed", message=message, status=403)


NOT_FOUND = (
    "There is nothing at this address. It may have been deleted, kept private by its author, "
    "or the link is incomplete."
)


@login_not_required
def page_not_found(request, exception=None):
    """The studio's own page (or toast) for a 404, instead of Django's bare one with no way back.
    Never the exception's text: that can be Django's wording, not a sentence for people."""
    return message_response(request, title="Not found", message=NOT_FOUND, status=404)
