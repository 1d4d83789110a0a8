"""Every URL of the studio, walked with hostile values: in its path, and in every parameter its
view reads. No answer may be a 5xx or show Python's own words; a crash fails loudly, with its
traceback (the test client raises the view's exception).

The URLs come from the resolver and the parameters from the views themselves: each view answers
an ordinary request first while the names it looks up are recorded (`names_read`), and those are
the names walked. Only the rows a URL's id can point at are listed by hand (`world`); a new URL
without one fails the walk and says so.
"""

import copy
import re
from contextlib import contextmanager
from itertools import cycle
from urllib.parse import quote

import pytest
from django.db import transaction
from django.http import QueryDict
from django.test import Client, RequestFactory
from django.urls import URLResolver, get_resolver

from api import answers
from api import tokens as api_tokens
from boards import services as board_services
from gallery import catalog, edits, services
from gallery.models import Image, PromptHistory, WorkerBeat
from shares import services as share_services
from team import services as team_services
from team.models import TeamPolicy
from tests.conftest import htmx_headers
from tests.factories import make_run, make_succeeded_image, png_bytes

# Values that have each crashed a view, or could: huge and edge numbers, digits that are not
# ASCII, dates and months at the calendar's ends, ids inside tokens and lists, and junk.
HOSTILE = (
    "99999999999999999999",
    str(2**63 - 1),
    "0",
    "-1",
    "²",
    "٣",
    "1e9",
    "",
    "9" * 5000,
    "\x00",
    "9999-12-31",
    "0001-01-01",
    "9999-12",
    "0001-01",
    "image:99999999999999999999",
    "upload:²",
    "remove_model:²",
)
# For <id:pk> and <str:token> in paths; the hostile ones that are all digits reach the converter.
HOSTILE_PATH = (
    "0",
    "-1",
    "²",
    "٣",
    "1e9",
    str(2**63 - 1),
    str(2**63),
    "9" * 40,
    "0" * 30 + "1",
    "x" * 300,
    "%00",
    "..",
    " ",
    "%ED%A0%80",  # a lone surrogate, percent-encoded: not UTF-8
)
# The parameters the issue named: the recorded ones must include them (or the walk is blind).
NAMED = {"edit", "reuse", "prompt", "source", "pending", "month", "date_from", "date_to",
         "before", "q", "model", "who", "starred", "next", "board", "image", "name",
         "direction", "new_board", "run", "expires", "download", "images"}  # fmt: skip
PYTHON_WORDS = ("Traceback", "invalid literal", "OverflowError", "ValueError", "out of range",
                "Python int")  # fmt: skip
HTMX_TARGETS = ("", "gallery-results", "gallery-more", "generate-form")
PLACEHOLDER = re.compile(r"<(?:\w+:)?(\w+)>")


def routes() -> list[str]:
    """Every URL pattern of the studio as a route ("runs/<id:pk>/"); Django's admin left out."""

    def walk(patterns, prefix):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.app_name != "admin":
                    yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern)

    return list(walk(get_resolver().url_patterns, ""))


def fill(route: str, value: str | tuple) -> str:
    """The route with `value` in its placeholders; a tuple gives one value to each in turn (a
    share link's file: its token, then the image's id)."""
    values = iter(value) if isinstance(value, tuple) else None
    return "/" + PLACEHOLDER.sub(
        lambda _: quote(str(next(values)) if values else value, safe="%"), route
    )


@contextmanager
def names_read():
    """Record the names a view looks up in request.GET and request.POST (or a copy of one):
    get, getlist, [name] and `name in` (how a checkbox is read), but not the lookups a
    QueryDict makes of itself while it is being filled."""
    seen: set[str] = set()
    building = []

    def filling(original):
        def fill_in(self, *args, **kwargs):
            building.append(id(self))
            try:
                return original(self, *args, **kwargs)
            finally:
                building.pop()

        return fill_in

    def recording(original):
        def lookup(self, key, *args, **kwargs):
            if id(self) not in building:
                seen.add(key)
            return original(self, key, *args, **kwargs)

        return lookup

    with pytest.MonkeyPatch.context() as patch:
        for name in ("__init__", "appendlist", "setlistdefault"):
            patch.setattr(QueryDict, name, filling(getattr(QueryDict, name)))
        for name in ("get", "getlist", "__getitem__"):
            patch.setattr(QueryDict, name, recording(getattr(QueryDict, name)))
        patch.setattr(QueryDict, "__contains__", recording(dict.__contains__))
        yield seen


class Walker:
    """Sends requests as a member and as an admin, plain and over htmx, each in a transaction
    rolled back afterwards: a delete or a sign-out does not change what the next request sees."""

    def __init__(self, clients):
        self.clients = clients
        self.sent = 0
        self._variants = cycle(
            [(who, target) for target in (None, *HTMX_TARGETS) for who in clients]
        )

    def send(self, method: str, url: str, data: dict, *, who=None, target=None, trigger=""):
        """One request; without `who`, the next of the variants in turn. Over htmx, `trigger`
        names the picker that changed ("model-<trigger>"), as the prompt box's pickers do."""
        if who is None:
            who, target = next(self._variants)
        client = self.clients[who]
        headers = {}
        if target is not None:
            headers = {**htmx_headers(url), "HX-Target": target, "HX-Trigger": f"model-{trigger}"}
        cookies = copy.deepcopy(client.cookies)
        try:
            with transaction.atomic():
                send = client.get if method == "GET" else client.post
                response = send(url, data, headers=headers)
                transaction.set_rollback(True)
        except Exception as exc:
            raise AssertionError(f"{method} {url[:120]} {str(data)[:200]} as {who}") from exc
        finally:
            client.cookies = cookies
        self.sent += 1
        where = f"{method} {url[:120]} {str(data)[:200]} as {who}, htmx target {target!r}"
        assert response.status_code < 500, where
        if response.streaming:
            # Read to the end: the client then closes the file (and keeps the database open).
            b"".join(response.streaming_content)
        else:
            body = response.content.decode(errors="replace")
            for words in PYTHON_WORDS:
                assert words not in body, f"{words!r} shown for {where}"
        return response


@pytest.fixture
def world(client, user, admin_user):
    """A member's finished run, failed tile, upload and prompt; an open invite; sign-up open;
    a worker running (so /healthz answers 200, as on a working studio)."""
    WorkerBeat.objects.beat("a-running-worker")
    run = make_run(user, models=["offline/aurora"], count=2)
    done, failed = run.images.order_by("position")
    make_succeeded_image(done)
    Image.objects.filter(pk=failed.pk).update(status="failed", error="The provider failed.")
    upload = edits.upload_store(user=user, data=png_bytes(), name="fox.png")
    services.prompt_remember(user=user, prompt="a red fox")
    prompt = PromptHistory.objects.get(user=user)
    invite, token = team_services.invite_create(created_by=admin_user, email="new@example.com")
    api_token, _ = api_tokens.token_create(user=user, name="script")
    TeamPolicy.objects.update_or_create(pk=1, defaults={"signup_domain": "example.com"})
    in_trash = make_run(user, prompt="deleted", models=["offline/aurora"])
    make_succeeded_image(in_trash.images.get())
    services.run_delete(run=in_trash)
    alone = make_succeeded_image(make_run(user, prompt="one deleted").images.get())
    services.image_delete(image=alone)
    board = board_services.board_create(owner=user, name="Foxes")
    board_services.board_add_images(board=board, viewer=user, image_ids=[done.pk])
    share, share_token = share_services.link_create(
        user=user, image=done, expires="7", include_prompt=True
    )
    member, admin = client, Client()
    member.force_login(user)
    admin.force_login(admin_user)
    real = {
        "trash/runs/": [in_trash.pk],
        "trash/images/": [alone.pk, in_trash.images.get().pk],
        "uploads/": [upload.pk],
        "prompts/": [prompt.pk],
        "runs/": [run.pk],
        "boards/": [board.pk],
        "shares/": [share.pk],
        "s/": [(share_token, done.pk)],
        "images/": [done.pk, failed.pk],
        "team/invites/": [invite.pk],
        "team/members/": [user.pk],
        "invite/": [token],
        "api/tokens/": [api_token.pk],
        "v1/files/": [answers.image_url(RequestFactory().get("/"), done).rsplit("/", 1)[1]],
    }
    return Walker({"member": member, "admin": admin}), real


def real_values(route: str, real: dict) -> list[str]:
    if not PLACEHOLDER.search(route):
        return [""]
    prefix = route[: route.index("<")]
    if prefix not in real:
        pytest.fail(f"Give the walk a real value for {route} (a row its view can find).")
    return [value if isinstance(value, tuple) else str(value) for value in real[prefix]]


# An ordinary request to build each hostile one on: a compare run, so the prompt box's compare
# branches (remove a model, keep the picker that changed) are reached too.
BASELINE = {"prompt": "a red fox", "model": ["offline/aurora", "offline/mosaic"], "compare": "on"}


@pytest.mark.django_db
def test_every_url_survives_hostile_ids_and_tokens_in_its_path(world):
    """Real values, every way of asking; hostile ones, each way of asking in turn."""
    walker, real = world
    walked = [route for route in routes() if PLACEHOLDER.search(route)]
    assert {"runs/", "images/", "team/members/", "invite/"} <= {r[: r.index("<")] for r in walked}
    for route in walked:
        for method in ("GET", "POST"):
            for value in real_values(route, real):
                for who in walker.clients:
                    for target in (None, ""):
                        walker.send(method, fill(route, value), {}, who=who, target=target)
            for value in HOSTILE_PATH:
                walker.send(method, fill(route, value), {}, trigger=value)


@pytest.mark.django_db
def test_every_parameter_a_view_reads_survives_hostile_values(world):
    """Each name a view reads (found by asking it politely first), alone with each hostile
    value: alone, since a view may stop at the first bad one it meets."""
    walker, real = world
    assert set(BASELINE["model"]) <= set(catalog.known_models())  # or the prompt box stops there
    all_routes = routes()
    assert "usage.csv" in all_routes and "team/policy/" in all_routes
    recorded: set[str] = set()
    for route in all_routes:
        url = fill(route, real_values(route, real)[0])
        for method in ("GET", "POST"):
            with names_read() as names:
                answers = [
                    walker.send(method, url, BASELINE, who="admin", target=target).status_code
                    for target in (None, "")
                ]
            if set(answers) == {405}:
                continue
            names -= {"csrfmiddlewaretoken"}
            recorded |= names
            for value in HOSTILE:
                for name in sorted(names):
                    walker.send(method, url, {**BASELINE, name: value}, trigger=value)

    assert recorded >= NAMED, f"never read: {NAMED - recorded}"
