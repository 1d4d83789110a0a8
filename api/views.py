"""The API page: a member's tokens (an admin sees everyone's), and how to call the studio."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from api import tokens
from api.forms import TokenForm
from gallery.views import offered_models

PAGE = "api/api.html"


def _context(request, **overrides) -> dict:
    models = list(offered_models().values())
    generators = [spec for spec in models if spec.generates]
    editors = [spec for spec in models if spec.accepts_images]
    context = {
        "tokens": tokens.tokens_for(viewer=request.user),
        "form": TokenForm(),
        "new_token": None,
        # This studio's own address, as the person reached it: what the snippets call.
        "base_url": request.build_absolute_uri("/v1").rstrip("/"),
        "generate_model": generators[0].id if generators else "auto",
        "edit_model": editors[0].id if editors else "auto",
        "models": models,
    }
    context.update(overrides)
    return context


@require_GET
def api_page(request):
    return render(request, PAGE, _context(request))


@require_POST
def token_create(request):
    form = TokenForm(request.POST)
    if not form.is_valid():
        if request.htmx:
            return render(request, f"{PAGE}#tokens", _context(request, form=form), status=422)
        return render(request, PAGE, _context(request, form=form), status=400)
    api_token, secret = tokens.token_create(
        user=request.user,
        name=form.cleaned_data["name"],
        expires_in_days=form.cleaned_data["expires"],
        private_runs=form.cleaned_data["private_runs"],
    )
    # Shown this once, in this answer: not through the session (a redirect would have to keep
    # the token somewhere), so it is never stored anywhere but as its hash.
    new_token = {"name": api_token.name, "token": secret}
    template = f"{PAGE}#tokens" if request.htmx else PAGE
    return render(request, template, _context(request, new_token=new_token))


@require_POST
def token_revoke(request, pk: int):
    api_token = tokens.tokens_for(viewer=request.user).filter(pk=pk).first()
    if api_token is None:
        # Someone else's token is a 404 to a member: they need not learn it exists.
        raise Http404("No such token.")
    tokens.token_revoke(actor=request.user, token=api_token)
    if request.htmx:
        return render(request, f"{PAGE}#tokens", _context(request))
    messages.success(request, f"Token “{api_token.name}” revoked: it no longer works.")
    return redirect(reverse("api_page"))
