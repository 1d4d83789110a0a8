"""First-run setup, and the pages for refused requests (CSRF, permission)."""

from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods
from django_htmx.http import reswap, retarget, trigger_client_event

from gallery.forms import GenerateForm, SetupForm
from gallery.middleware import any_user_exists
from gallery.prompt_box import PromptBox
from gallery.views import STUDIO, _studio_page, offered_models


@login_not_required
@require_http_methods(["GET", "POST"])
def setup(request):
    """Create the first (admin) account; gone once any account exists."""
    if any_user_exists():
        raise Http404("The studio is already set up.")
    form = SetupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user)
        return redirect("studio")
    return render(request, "gallery/setup.html", {"form": form})


CSRF_MESSAGE = (
    "The form could not be verified (it was open too long, or you signed in elsewhere), so "
    "nothing was started. Press Generate again."
)


@login_not_required
def csrf_failure(request, reason: str = ""):
    """A clear message instead of Django's bare 403 page; nothing has been written."""
    if request.path == reverse("generation_create") and request.user.is_authenticated:
        form = GenerateForm(request.POST, models=offered_models())
        box = PromptBox.from_form(form, viewer=request.user, message=CSRF_MESSAGE)
        if request.htmx:
            response = render(request, f"{STUDIO}#prompt_form", {"box": box}, status=403)
            return reswap(retarget(response, "#generate-form"), "outerHTML")
        return _studio_page(request, box, status=403)
    return _refused(request, "Please try again", CSRF_MESSAGE.replace(" Press Generate again.", ""))


def permission_denied(request, exception=None):
    message = str(exception) if exception and str(exception) else "You may not do that."
    return _refused(request, "Not allowed", message)


NOT_FOUND = (
    "There is nothing at this address. It may have been deleted, kept private by its author, "
    "or the link is incomplete."
)


@login_not_required
def page_not_found(request, exception=None):
    """The studio's own page (or toast) for a 404, instead of Django's bare one with no way back.
    Never the exception's text: that can be Django's wording, not a sentence for people."""
    return _refused(request, "Not found", NOT_FOUND, status=404)


def _refused(request, title: str, message: str, *, status: int = 403) -> HttpResponse:
    if getattr(request, "htmx", False):
        # Swap nothing; the page shows the message as a toast.
        response = HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
        response["HX-Reswap"] = "none"
        return trigger_client_event(response, "toast", {"message": message})
    return render(request, "message.html", {"title": title, "message": message}, status=status)
