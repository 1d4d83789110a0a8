"""The studio's pages. Each view parses input, calls one service or selector and renders; an htmx
request gets the fragment it asked for, a plain request the whole page (or a redirect)."""

from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from gallery import catalog, downloads, selectors, services
from gallery.forms import GenerateForm, SetupForm
from gallery.middleware import any_user_exists
from gallery.models import Generation, Image
from gallery.presenters import FormState, RunView

STUDIO = "gallery/studio.html"


def _gallery_context(request, *, before_id: int | None = None) -> dict:
    page = selectors.generations_for_gallery(before_id=before_id)
    has_more = len(page) > selectors.GALLERY_PAGE_SIZE
    runs = [RunView(g) for g in page[: selectors.GALLERY_PAGE_SIZE]]
    return {
        "runs": runs,
        "next_before": runs[-1].generation.pk if has_more and runs else None,
    }


def _studio_page(request, state: FormState, *, status: int = 200) -> HttpResponse:
    context = {
        "state": state,
        "recent_prompts": selectors.recent_prompts(user=request.user),
        "offline": catalog.offline_mode(),
        **_gallery_context(request),
    }
    return render(request, STUDIO, context, status=status)


@require_GET
def studio(request):
    models = catalog.available_models()
    return _studio_page(request, FormState.initial(models))


@require_GET
def controls(request):
    """The model pickers and controls, re-rendered for the models now selected."""
    models = catalog.available_models()
    changed = request.htmx.trigger or "" if request.htmx else ""
    state = FormState.from_data(request.GET, models, changed=changed)
    return render(request, f"{STUDIO}#controls", {"state": state})


@require_POST
def generation_create(request):
    models = catalog.available_models()
    action = request.POST.get("action", "generate")
    if action != "generate":
        # The no-JavaScript path for "Add model" / "Remove model": redraw the form, start nothing.
        return _studio_page(request, FormState.from_data(request.POST, models))

    form = GenerateForm(request.POST, models=models)
    if not form.is_valid():
        state = FormState.from_data(request.POST, models, form=form)
        if request.htmx:
            response = render(request, f"{STUDIO}#prompt_form", {"state": state}, status=422)
            return reswap(retarget(response, "#generate-form"), "outerHTML")
        return _studio_page(request, state, status=400)

    data = form.cleaned_data
    generation = services.generation_start(
        user=request.user,
        prompt=data["prompt"],
        specs=data["specs"],
        choice=form.choice(),
        count=data["count"],
        compare=data["compare"],
    )
    if not request.htmx:
        return redirect(f"{reverse('studio')}#run-{generation.pk}")
    run = RunView(selectors.generation_for_display(generation_id=generation.pk))
    context = {"run": run, "recent_prompts": selectors.recent_prompts(user=request.user)}
    return render(request, "gallery/generation_created.html", context)


@require_GET
def generation_detail(request, pk: int):
    try:
        generation = selectors.generation_for_display(generation_id=pk)
    except Generation.DoesNotExist:
        raise Http404("No such run.") from None
    run = RunView(generation)
    if request.htmx:
        return render(request, f"{STUDIO}#run", {"run": run})
    return render(request, "gallery/generation_page.html", {"run": run})


@require_GET
def generation_progress(request, pk: int):
    """What a run's poller asks once a second: the tiles it still shows as pending, re-rendered."""
    try:
        pending_ids = {int(v) for v in request.GET.get("pending", "").split(",") if v}
    except ValueError:
        return HttpResponse(
            "pending must be a comma-separated list of image ids.",
            status=400,
            content_type="text/plain",
        )
    services.images_reap_stale(generation_id=pk)
    try:
        run = RunView(selectors.generation_for_display(generation_id=pk))
    except Generation.DoesNotExist:
        raise Http404("No such run.") from None
    tiles = [image for image in run.images if image.pk in pending_ids]
    return render(request, "gallery/generation_progress.html", {"run": run, "tiles": tiles})


@require_POST
def image_retry(request, pk: int):
    image = get_object_or_404(Image.objects.filter(generation__deleted_at__isnull=True), pk=pk)
    if image.can_retry:  # otherwise already queued again (a double click): just redraw
        image = services.image_retry(image=image)
    if not request.htmx:
        return redirect(f"{reverse('studio')}#run-{image.generation_id}")
    run = RunView(selectors.generation_for_display(generation_id=image.generation_id))
    return render(request, f"{STUDIO}#run", {"run": run})


def _visible_image(pk: int) -> Image:
    return get_object_or_404(
        Image.objects.select_related("generation").filter(
            status=Image.Status.SUCCEEDED, generation__deleted_at__isnull=True
        ),
        pk=pk,
    )


_CACHE_FOREVER = "private, max-age=31536000, immutable"


@require_GET
def image_thumbnail(request, pk: int):
    image = _visible_image(pk)
    response = FileResponse(image.thumbnail.open("rb"), content_type="image/webp")
    response["Cache-Control"] = _CACHE_FOREVER
    return response


@require_GET
def image_original(request, pk: int):
    image = _visible_image(pk)
    response = FileResponse(image.file.open("rb"), content_type=f"image/{image.format}")
    response["Cache-Control"] = _CACHE_FOREVER
    return response


@require_GET
def image_download(request, pk: int):
    image = _visible_image(pk)
    response = FileResponse(
        image.file.open("rb"),
        content_type=f"image/{image.format}",
        as_attachment=True,
        filename=downloads.filename_for(image),
    )
    response["Cache-Control"] = "private, no-cache"
    return response


@login_not_required
@require_http_methods(["GET", "POST"])
def setup(request):
    """Create the first (admin) account; gone once any account exists."""
    if any_user_exists():
        raise Http404("The studio is already set up.")
    form = SetupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
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
        state = FormState.from_data(request.POST, catalog.available_models(), message=CSRF_MESSAGE)
        if request.htmx:
            response = render(request, f"{STUDIO}#prompt_form", {"state": state}, status=403)
            return reswap(retarget(response, "#generate-form"), "outerHTML")
        return _studio_page(request, state, status=403)
    return render(request, "403_csrf.html", {"message": CSRF_MESSAGE}, status=403)
