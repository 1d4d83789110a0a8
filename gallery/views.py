"""The studio page and runs. Each view parses input, calls one service or selector and renders;
an htmx request gets the fragment it asked for (by its target), a plain request the whole page or
a redirect. Image and download views live in image_views.py; accounts in team/account_views.py."""

from django.contrib.auth import get_user_model
from django.core.handlers.asgi import ASGIRequest
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRefresh, reswap, retarget

from boards import selectors as boards_selectors
from gallery import catalog, edits, files, imaging, permissions, selectors, services
from gallery.forms import Attachments, GalleryFilterForm, GenerateForm
from gallery.models import Event, Image, Run
from gallery.presenters import GalleryView, RunView
from gallery.prompt_box import PromptBox
from gallery.suggestions import pick_suggestions
from studio import params
from studio.responses import bad_request, message_response
from team import services as team_services

STUDIO = "gallery/studio.html"
RUN = "gallery/run.html"
UPLOAD_NOT_STORED = (
    "The image could not be stored: the file storage did not take it. Try again in a moment."
)


def offered_models():
    """The catalog's models, narrowed to the team's allowlist."""
    return team_services.allowed_models(catalog.available_models())


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
    board_id = data["board"]
    if (
        board_id is not None
        and not boards_selectors.boards_visible_to(request.user).filter(pk=board_id).exists()
    ):
        raise ValueError(f"There is no board number {board_id} that you can see.")
    return selectors.GalleryQuery(
        q=data["q"],
        model=data["model"],
        starred=data["starred"],
        via_api=data["via_api"],
        date_from=data["date_from"],
        date_to=data["date_to"],
        author_id=author_id,
        board_id=board_id,
        board_order=data["order"] == "board",
        aspect=data["aspect"],
        has_edits=data["edited"],
        failed=data["failed"],
    )


def _studio_context(request, box: PromptBox, gallery: GalleryView) -> dict:
    return {
        "box": box,
        "gallery": gallery,
        "recent_prompts": selectors.recent_prompts(user=request.user),
        "suggestions": pick_suggestions() if gallery.is_empty_studio else None,
        "offline": catalog.offline_mode(),
        # Lazy: only queried when the whole page (with its filter form) is drawn.
        "members": get_user_model().objects.filter(is_active=True).order_by("username"),
        "filter_models": list(catalog.known_models().values()),
        "filter_aspects": selectors.ASPECTS,
        "filter_boards": boards_selectors.boards_visible_to(request.user).only("pk", "name"),
    }


def _live_url(request) -> str:
    """Where a page drawn now listens for changes (static/js/live.js): the live stream, from
    the newest event, read before the page's runs so that nothing changed between drawing and
    connecting is missed. Empty where streams are not served (a WSGI server): the page polls."""
    if not isinstance(request, ASGIRequest):
        return ""
    return f"{reverse('events')}?after={Event.objects.newest_id()}"


def _id_from_link(text: str, *, what: str, link: str) -> int:
    """The id a link carries. A number no row can have is a 404 like any id that matches
    nothing; anything else is a broken link (ValueError, a 400 naming the link)."""
    try:
        return params.parse_id(text, what=what)
    except params.NoSuchId:
        raise Http404(f"No such {what}.") from None
    except params.BadParameter:
        raise ValueError(f"That {link} link is broken.") from None


def _link_form(request, models) -> GenerateForm:
    """The prompt box as a link asks for it: reuse a run's settings, edit an image, or start
    from a prompt."""
    if edit := request.GET.get("edit", ""):
        image_id = _id_from_link(edit, what="image", link="“Edit”")
        try:
            sources = edits.sources_from_tokens([f"image:{image_id}"], viewer=request.user)
        except edits.SourceError:
            raise Http404("No such image.") from None
        return GenerateForm.blank(models=models, sources=sources)
    if reuse := request.GET.get("reuse", ""):
        run_id = _id_from_link(reuse, what="run", link="“Reuse settings”")
        try:
            run = selectors.run_for_display(run_id=run_id, viewer=request.user)
        except Run.DoesNotExist:
            raise Http404("No such run.") from None
        return GenerateForm.reusing(run, models=models)
    return GenerateForm.blank(models=models, prompt=request.GET.get("prompt", ""))


@require_GET
def studio(request):
    filters = GalleryFilterForm(request.GET)
    if not filters.is_valid():
        return bad_request(request, filters.error_message())
    try:
        query = _gallery_query(request, filters)
        box = PromptBox.from_form(_link_form(request, offered_models()), viewer=request.user)
    except ValueError as exc:
        return bad_request(request, str(exc))
    target = request.htmx.target if request.htmx else None
    if target == "generate-form":
        return render(request, f"{STUDIO}#generate_form", {"box": box})
    fragment = target in ("gallery-results", "gallery-more")
    live_url = "" if fragment else _live_url(request)
    gallery = GalleryView.load(
        viewer=request.user,
        query=query,
        before_id=filters.cleaned_data["before"],
        after_rank=filters.cleaned_data["after_rank"],
        params=request.GET,
    )
    context = _studio_context(request, box, gallery)
    if target == "gallery-results":
        return render(request, f"{STUDIO}#gallery_results", context)
    if target == "gallery-more":
        return render(request, f"{STUDIO}#gallery_page", context)
    return render(request, STUDIO, {**context, "live_url": live_url})


def _studio_page(request, box: PromptBox, *, status: int = 200) -> HttpResponse:
    gallery = GalleryView.load(viewer=request.user)
    return render(request, STUDIO, _studio_context(request, box, gallery), status=status)


@require_GET
def controls(request):
    """The model pickers and controls, re-rendered for the models now selected (and the images
    now attached: while there are any, only models that take images are offered)."""
    tokens = GenerateForm.attachments(request.GET).tokens
    try:
        sources = edits.sources_from_tokens(tokens, viewer=request.user)
    except edits.SourceError as exc:
        return bad_request(request, exc.message)
    changed = (request.htmx.trigger or "") if request.htmx else ""
    form = GenerateForm(request.GET, models=offered_models(), sources=sources, changed=changed)
    box = PromptBox.from_form(form, viewer=request.user)
    return render(request, f"{STUDIO}#controls", {"box": box})


@require_GET
def estimate(request):
    """The price of the run as the prompt box is set up now, and what the quotas leave."""
    tokens = GenerateForm.attachments(request.GET).tokens
    try:
        sources = edits.sources_from_tokens(tokens, viewer=request.user)
    except edits.SourceError:
        sources = []
    form = GenerateForm(request.GET, models=offered_models(), sources=sources)
    box = PromptBox.from_form(form, viewer=request.user)
    return render(request, f"{STUDIO}#estimate", {"box": box})


@require_GET
def suggestions(request):
    return render(request, f"{STUDIO}#suggestions", {"suggestions": pick_suggestions()})


def _attached_sources(request, attachments: Attachments) -> list:
    """The run's input images: those already attached, plus files and a link sent with this
    form (the no-JavaScript path; with JavaScript they are attached one by one on /uploads/)."""
    tokens = list(attachments.tokens)
    for upload in attachments.files:
        stored = edits.upload_store(user=request.user, data=upload.read(), name=upload.name)
        tokens.append(f"upload:{stored.pk}")
    if attachments.link:
        # Fetched by the worker, as with JavaScript: the page comes back with the chip
        # "fetching…", and Generate is refused until it is ready.
        upload = edits.upload_link_start(user=request.user, url=attachments.link)
        tokens.append(f"upload:{upload.pk}")
    return edits.sources_from_tokens(tokens, viewer=request.user)


@require_POST
def run_create(request):
    models = offered_models()
    try:
        sources = _attached_sources(request, GenerateForm.attachments(request.POST, request.FILES))
    except (edits.SourceError, imaging.ImageRejected) as exc:
        form = GenerateForm(request.POST, models=models)
        return _form_error(
            request, PromptBox.from_form(form, viewer=request.user, message=exc.message)
        )
    except files.StorageError:
        form = GenerateForm(request.POST, models=models)
        box = PromptBox.from_form(form, viewer=request.user, message=UPLOAD_NOT_STORED)
        return _form_error(request, box, status=503)
    form = GenerateForm(request.POST, models=models, sources=sources)
    if form.redraws:
        # The no-JavaScript path for "Add model" / "Remove model" / removing an attached image:
        # redraw the form, start nothing.
        return _studio_page(request, PromptBox.from_form(form, viewer=request.user))
    if not form.is_valid():
        return _form_error(request, PromptBox.from_form(form, viewer=request.user))

    cleaned = form.cleaned_data
    try:
        run = services.run_start(
            user=request.user,
            prompt=cleaned["prompt"],
            specs=cleaned["specs"],
            choice=form.choice(),
            count=cleaned["count"],
            compare=cleaned["compare"],
            sources=sources,
            private=cleaned["private"],
        )
    except team_services.RunRefused as exc:
        box = PromptBox.from_form(form, viewer=request.user, message=exc.message)
        return _form_error(request, box)
    if not request.htmx:
        return redirect(f"{reverse('studio')}#run-{run.pk}")
    context = {
        "run": RunView(_visible_run(request, run.pk), viewer=request.user),
        "recent_prompts": selectors.recent_prompts(user=request.user),
    }
    return render(request, "gallery/run_created.html", context)


def _form_error(request, box: PromptBox, *, status: int | None = None) -> HttpResponse:
    """The prompt box again, with the message and everything as typed; nothing was started.
    `status`: the answer's status when it is not a plain invalid form (422 htmx, 400 a page)."""
    if request.htmx:
        response = render(request, f"{STUDIO}#generate_form", {"box": box}, status=status or 422)
        return reswap(retarget(response, "#generate-form"), "outerHTML")
    return _studio_page(request, box, status=status or 400)


def run_create_unverified(request, *, message: str) -> HttpResponse:
    """A prompt sent to Generate whose form could not be verified (CSRF; see
    team.account_views.csrf_failure): the prompt box again, as typed, with `message`."""
    form = GenerateForm(request.POST, models=offered_models())
    box = PromptBox.from_form(form, viewer=request.user, message=message)
    return _form_error(request, box, status=403)


@require_POST
def upload_create(request):
    """Attach images to the prompt box: files (picked, pasted, dropped) or an https link. Each
    is checked and cleaned before it is stored; the answer is one chip per image. A link's chip
    says "fetching…" and polls `upload_detail` while the worker fetches it."""
    if int(request.META.get("CONTENT_LENGTH") or 0) > edits.MAX_UPLOAD_REQUEST_BYTES:
        return bad_request(
            request, f"That is too much at once: attach images up to {edits.MAX_UPLOAD_MB} MB each."
        )
    try:
        uploads = [
            edits.upload_store(user=request.user, data=f.read(), name=f.name)
            for f in request.FILES.getlist("image")
        ]
        if link := request.POST.get("url", "").strip():
            uploads.append(edits.upload_link_start(user=request.user, url=link))
    except (edits.SourceError, imaging.ImageRejected) as exc:
        return bad_request(request, exc.message)
    except files.StorageError:
        return message_response(request, title="Not stored", message=UPLOAD_NOT_STORED, status=503)
    if not uploads:
        return bad_request(request, "Choose an image file, or paste a link to one.")
    sources = edits.sources_from_tokens([f"upload:{u.pk}" for u in uploads], viewer=request.user)
    return render(request, "gallery/attachments_added.html", {"sources": sources})


@require_GET
def upload_detail(request, pk: int):
    """An attached image's chip as it is now: what a "fetching…" chip polls until the worker
    has stored the image (the thumbnail) or given up (the reason, with Remove)."""
    try:
        sources = edits.sources_from_tokens([f"upload:{pk}"], viewer=request.user)
    except edits.SourceError:
        raise Http404("No such image.") from None
    return render(request, "gallery/attachments_added.html", {"sources": sources})


def _visible_run(request, pk: int) -> Run:
    try:
        return selectors.run_for_display(run_id=pk, viewer=request.user)
    except Run.DoesNotExist:
        raise Http404("No such run.") from None


@require_GET
def run_detail(request, pk: int):
    live_url = "" if request.htmx else _live_url(request)
    run = RunView(_visible_run(request, pk), viewer=request.user)
    if request.htmx:
        return render(request, RUN, {"run": run})
    boards = boards_selectors.boards_visible_to(request.user).only("pk", "name")  # "Add to board"
    context = {"run": run, "live_url": live_url, "boards": boards}
    return render(request, "gallery/run_page.html", context)


@require_GET
def events(request):
    """The live stream's URL. Under ASGI, studio/asgi.py answers it itself (a stream, see
    gallery/push/stream.py); a server that cannot hold streams open (WSGI) answers 204 No
    Content, which tells a browser's EventSource not to come back: the page keeps polling."""
    return HttpResponse(status=204)


@require_GET
def run_progress(request, pk: int):
    """What a run's poller asks once a second: the images it still shows as pending, re-rendered.
    It only reads: images whose worker died are marked interrupted by the worker and by
    `manage.py reap_stale`."""
    try:
        pending_ids = set(params.parse_id_list(request.GET.get("pending", ""), what="image"))
    except params.BadParameter as exc:
        return bad_request(request, exc.message)
    run = RunView(_visible_run(request, pk), viewer=request.user)
    images = [image for image in run.images if image.pk in pending_ids]
    context = {"run": run, "images": images, "actions_change": run.actions_change(images)}
    return render(request, f"{RUN}#progress", context)


@require_POST
def image_retry(request, pk: int):
    image = permissions.image_for_change(request, pk, Image.objects.all())
    if image.can_retry:  # otherwise already queued again (a double click): just redraw
        try:
            services.image_retry(image=image)
        except team_services.RunRefused as exc:
            # The tile stays as it was; the refusal is a toast (htmx) or a page saying why.
            return message_response(request, title=exc.title, message=exc.message, status=403)
    if not request.htmx:
        return redirect(f"{reverse('studio')}#run-{image.run_id}")
    run = RunView(_visible_run(request, image.run_id), viewer=request.user)
    return render(request, RUN, {"run": run})


@require_POST
def run_cancel(request, pk: int):
    """Stop the run: its queued images are never sent, those being made are abandoned."""
    run = permissions.run_for_change(request, pk)
    services.run_cancel(run=run)
    return _run_redrawn(request, run.pk)


@require_POST
def image_cancel(request, pk: int):
    image = permissions.image_for_change(request, pk)
    services.image_cancel(image=image)  # one already finished stays as it is: just redraw
    return _run_redrawn(request, image.run_id)


def _run_redrawn(request, run_id: int):
    if not request.htmx:
        return redirect(f"{reverse('studio')}#run-{run_id}")
    run = RunView(_visible_run(request, run_id), viewer=request.user)
    return render(request, RUN, {"run": run})


@require_POST
def run_delete(request, pk: int):
    run = permissions.run_for_change(request, pk)
    services.run_delete(run=run)
    if not request.htmx:
        return redirect("studio")
    return render(request, "gallery/deleted_toast.html", {"run": run})


@require_POST
def run_share(request, pk: int):
    """Make a private run visible to the whole team."""
    run = permissions.run_for_change(request, pk)
    services.run_share(run=run)
    if not request.htmx:
        return redirect(f"{reverse('studio')}#run-{run.pk}")
    return render(request, RUN, {"run": RunView(_visible_run(request, pk), viewer=request.user)})


@require_POST
def run_restore(request, pk: int):
    run = permissions.run_for_change(request, pk, deleted=True)
    services.run_restore(run=run)
    if not request.htmx:
        return redirect(f"{reverse('studio')}#run-{run.pk}")
    return HttpResponseClientRefresh()


@require_POST
def prompt_forget(request, pk: int):
    services.prompt_forget(user=request.user, prompt_id=pk)
    if not request.htmx:
        return redirect("studio")
    context = {"recent_prompts": selectors.recent_prompts(user=request.user)}
    return render(request, f"{STUDIO}#recent_prompts", context)
