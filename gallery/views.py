"""The studio page and runs. Each view parses input, calls one service or selector and renders;
an htmx request gets the fragment it asked for (by its target), a plain request the whole page or
a redirect. Image, download and account views live in image_views.py and account_views.py."""

from django.contrib.auth import get_user_model
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRefresh, reswap, retarget, trigger_client_event

from gallery import catalog, permissions, selectors, services
from gallery.forms import GalleryFilterForm, GenerateForm
from gallery.models import Generation, Image
from gallery.presenters import FormState, GalleryView, RunView
from gallery.suggestions import pick_suggestions

STUDIO = "gallery/studio.html"


def bad_request(request, message: str) -> HttpResponse:
    """A clear message, never a 500: plain text for htmx (shown as a toast), a page otherwise."""
    if request.htmx:
        return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
    context = {"title": "That didn't work", "message": message}
    return render(request, "message.html", context, status=400)


def _gallery_query(request, filters: GalleryFilterForm) -> selectors.GalleryQuery:
    data = filters.cleaned_data
    author_id = None
    who = data["who"]
    if who == "mine":
        author_id = request.user.pk
    elif who:
        author = get_user_model().objects.filter(username=who).only("pk").first()
        if author is None:
            raise ValueError(f"No member is called “{who}”.")
        author_id = author.pk
    return selectors.GalleryQuery(
        q=data["q"],
        model=data["model"],
        starred=data["starred"],
        date_from=data["date_from"],
        date_to=data["date_to"],
        author_id=author_id,
    )


def _studio_context(request, state: FormState, gallery: GalleryView) -> dict:
    return {
        "state": state,
        "gallery": gallery,
        "recent_prompts": selectors.recent_prompts(user=request.user),
        "suggestions": pick_suggestions() if gallery.is_empty_studio else None,
        "offline": catalog.offline_mode(),
        # Lazy: only queried when the whole page (with its filter form) is drawn.
        "members": get_user_model().objects.filter(is_active=True).order_by("username"),
        "filter_models": list(catalog.known_models().values()),
    }


def _initial_state(request, models) -> FormState:
    """The prompt box as a link asks for it: reuse a run's settings, or start from a prompt."""
    if reuse := request.GET.get("reuse", ""):
        if not reuse.isdigit():
            raise ValueError("That “Reuse settings” link is broken.")
        try:
            generation = selectors.generation_for_display(
                generation_id=int(reuse), viewer=request.user
            )
        except Generation.DoesNotExist:
            raise Http404("No such run.") from None
        return FormState.from_generation(generation, models)
    state = FormState.initial(models)
    state.prompt = request.GET.get("prompt", "")[:4000]
    return state


@require_GET
def studio(request):
    filters = GalleryFilterForm(request.GET)
    if not filters.is_valid():
        return bad_request(request, filters.error_message())
    try:
        query = _gallery_query(request, filters)
        models = catalog.available_models()
        state = _initial_state(request, models)
    except ValueError as exc:
        return bad_request(request, str(exc))
    target = request.htmx.target if request.htmx else None
    if target == "generate-form":
        return render(request, f"{STUDIO}#prompt_form", {"state": state})
    gallery = GalleryView.load(
        viewer=request.user,
        query=query,
        before_id=filters.cleaned_data["before"],
        params=request.GET,
    )
    context = _studio_context(request, state, gallery)
    if target == "gallery-results":
        return render(request, f"{STUDIO}#gallery_results", context)
    if target == "gallery-more":
        return render(request, f"{STUDIO}#gallery_page", context)
    return render(request, STUDIO, context)


def _studio_page(request, state: FormState, *, status: int = 200) -> HttpResponse:
    gallery = GalleryView.load(viewer=request.user)
    return render(request, STUDIO, _studio_context(request, state, gallery), status=status)


@require_GET
def controls(request):
    """The model pickers and controls, re-rendered for the models now selected."""
    models = catalog.available_models()
    changed = (request.htmx.trigger or "") if request.htmx else ""
    state = FormState.from_data(request.GET, models, changed=changed)
    return render(request, f"{STUDIO}#controls", {"state": state})


@require_GET
def suggestions(request):
    return render(request, f"{STUDIO}#suggestions", {"suggestions": pick_suggestions()})


@require_POST
def generation_create(request):
    models = catalog.available_models()
    data = request.POST.copy()
    if use_prompt := data.get("use_prompt", ""):
        # A suggestion or a recent prompt's "Generate again": that prompt, the box's settings.
        data["prompt"] = use_prompt
    action = data.get("action", "generate")
    if action not in ("generate", ""):
        # The no-JavaScript path for "Add model" / "Remove model": redraw the form, start nothing.
        return _studio_page(request, FormState.from_data(data, models))

    form = GenerateForm(data, models=models)
    if not form.is_valid():
        state = FormState.from_data(data, models, form=form)
        if request.htmx:
            response = render(request, f"{STUDIO}#prompt_form", {"state": state}, status=422)
            return reswap(retarget(response, "#generate-form"), "outerHTML")
        return _studio_page(request, state, status=400)

    cleaned = form.cleaned_data
    generation = services.generation_start(
        user=request.user,
        prompt=cleaned["prompt"],
        specs=cleaned["specs"],
        choice=form.choice(),
        count=cleaned["count"],
        compare=cleaned["compare"],
    )
    if not request.htmx:
        return redirect(f"{reverse('studio')}#run-{generation.pk}")
    run = RunView(
        selectors.generation_for_display(generation_id=generation.pk, viewer=request.user),
        viewer=request.user,
    )
    context = {"run": run, "recent_prompts": selectors.recent_prompts(user=request.user)}
    return render(request, "gallery/generation_created.html", context)


def _visible_run(request, pk: int) -> Generation:
    try:
        return selectors.generation_for_display(generation_id=pk, viewer=request.user)
    except Generation.DoesNotExist:
        raise Http404("No such run.") from None


@require_GET
def generation_detail(request, pk: int):
    run = RunView(_visible_run(request, pk), viewer=request.user)
    if request.htmx:
        return render(request, f"{STUDIO}#run", {"run": run})
    return render(request, "gallery/generation_page.html", {"run": run})


@require_GET
def generation_progress(request, pk: int):
    """What a run's poller asks once a second: the tiles it still shows as pending, re-rendered."""
    try:
        pending_ids = {int(v) for v in request.GET.get("pending", "").split(",") if v}
    except ValueError:
        return bad_request(request, "pending must be a comma-separated list of image ids.")
    services.images_reap_stale(generation_id=pk)
    run = RunView(_visible_run(request, pk), viewer=request.user)
    tiles = [image for image in run.images if image.pk in pending_ids]
    return render(request, "gallery/generation_progress.html", {"run": run, "tiles": tiles})


@require_POST
def image_retry(request, pk: int):
    image = permissions.image_for_change(request, pk, Image.objects.all())
    if image.can_retry:  # otherwise already queued again (a double click): just redraw
        services.image_retry(image=image)
    if not request.htmx:
        return redirect(f"{reverse('studio')}#run-{image.generation_id}")
    run = RunView(_visible_run(request, image.generation_id), viewer=request.user)
    return render(request, f"{STUDIO}#run", {"run": run})


@require_POST
def generation_delete(request, pk: int):
    generation = permissions.generation_for_change(request, pk)
    services.generation_delete(generation=generation)
    if not request.htmx:
        return redirect("studio")
    response = render(request, "gallery/deleted_toast.html", {"generation": generation})
    return trigger_client_event(response, "runDeleted", {"id": generation.pk})


@require_POST
def generation_restore(request, pk: int):
    generation = permissions.generation_for_change(request, pk, deleted=True)
    services.generation_restore(generation=generation)
    if not request.htmx:
        return redirect(f"{reverse('studio')}#run-{generation.pk}")
    return HttpResponseClientRefresh()


@require_POST
def prompt_forget(request, pk: int):
    services.prompt_forget(user=request.user, prompt_id=pk)
    if not request.htmx:
        return redirect("studio")
    context = {"recent_prompts": selectors.recent_prompts(user=request.user)}
    return render(request, f"{STUDIO}#recent_prompts", context)
