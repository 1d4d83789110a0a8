"""Share links: made from a run, an image or a board by who may change it; a public read-only
page and files, signed out, showing only what was shared; revoked or expired means 404 for the
page and every file at once; admins see and revoke all links. And the sign-in middleware lets
the share URLs through, and nothing else."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from boards import services as board_services
from gallery import live
from gallery.models import Event, Image, Run
from shares.models import ShareLink
from tests.conftest import htmx_headers
from tests.factories import make_run, make_succeeded_image
from tests.test_hostile_params import fill, routes

pytestmark = pytest.mark.django_db

LINK = re.compile(r"http://testserver(/s/[A-Za-z0-9_-]{20,}/)")


def finished(user, prompt="a red fox", *, private=False, count=1) -> list[Image]:
    run = make_run(user, prompt=prompt, count=count)
    Run.objects.filter(pk=run.pk).update(is_private=private)
    images = [make_succeeded_image(image) for image in run.images.all()]
    Image.objects.filter(run=run).update(revised_prompt=f"{prompt}, revised")
    return images


def share(client, expect=200, headers=None, **data) -> str:
    data = {"expires": "7", "include_prompt": "on", **data}
    response = client.post("/shares/new/", data, headers=headers or {})
    assert response.status_code == expect, response.content[:300]
    if expect != 200:
        return ""
    return LINK.search(response.content.decode())[1]


def files_of(path: str, image: Image) -> list[str]:
    return [f"{path}images/{image.pk}/thumbnail.webp", f"{path}images/{image.pk}/original"]


def test_an_image_link_shows_the_image_signed_out_and_nothing_else(clients, user):
    image, sibling = finished(user, "a fox in the snow", count=2)
    other = finished(user, "another run")[0]
    path = share(clients["owner"], image=image.pk)
    link = ShareLink.objects.get()
    token = path.split("/")[2]
    assert link.token_hash == ShareLink.hash_token(token) and token not in link.token_hash
    assert len(token) >= 40

    public = Client()
    page = public.get(path)
    assert page.status_code == 200
    assert page["X-Robots-Tag"].startswith("noindex")
    html = page.content.decode()
    assert '<meta name="robots" content="noindex' in html
    assert "a fox in the snow" in html and "revised" in html
    assert "ada" not in html and "example.com" not in html  # no author, no email
    assert "another run" not in html and "Sign out" not in html
    for url in files_of(path, image):
        response = public.get(url)
        assert response.status_code == 200, url
        assert response["X-Robots-Tag"].startswith("noindex")
        assert response["Cache-Control"] == "no-store"
    assert b"".join(public.get(files_of(path, image)[1]).streaming_content) == (
        image.file.open("rb").read()
    )
    # Anything beyond what was shared, through the same link: 404.
    for outside in (sibling, other):
        for url in files_of(path, outside):
            assert public.get(url).status_code == 404, url
    assert public.get(f"/images/{image.pk}/original").status_code == 302  # the studio's: sign in


def test_without_the_prompt_nothing_says_it(clients, user):
    image = finished(user, "secret project name")[0]
    path = share(clients["owner"], image=image.pk, include_prompt="")
    public = Client()
    html = public.get(path).content.decode()
    assert "secret project name" not in html and "revised" not in html
    download = public.get(files_of(path, image)[1] + "?download=1")
    assert "secret" not in download["Content-Disposition"]
    assert download["Content-Disposition"].startswith("attachment")


def test_a_run_link_shows_its_finished_images_only(clients, user):
    first, second = finished(user, "the run", count=2)
    Image.objects.filter(pk=second.pk).update(deleted_at=timezone.now())
    other = finished(user, "not this one")[0]
    path = share(clients["owner"], run=first.run_id, headers=htmx_headers())
    public = Client()
    html = public.get(path).content.decode()
    assert f"/images/{first.pk}/thumbnail.webp" in html
    assert f"/images/{second.pk}/" not in html and "not this one" not in html
    for outside in (second, other):
        assert public.get(files_of(path, outside)[0]).status_code == 404


def test_a_board_link_keeps_private_runs_private_even_from_an_admin(clients, user, admin_user):
    public_image = finished(user, "team picture")[0]
    secret = finished(user, "private plans", private=True)[0]
    board = board_services.board_create(owner=admin_user, name="Best of")
    board_services.board_add_images(
        board=board, viewer=admin_user, image_ids=[public_image.pk, secret.pk]
    )
    path = share(clients["admin"], board=board.pk)
    anonymous = Client()
    html = anonymous.get(path).content.decode()
    assert "Best of" in html and "team picture" in html and "private plans" not in html
    assert anonymous.get(files_of(path, public_image)[0]).status_code == 200
    assert anonymous.get(files_of(path, secret)[0]).status_code == 404
    # The owner's own private image, on the owner's own board, is theirs to share.
    own = board_services.board_create(owner=user, name="Mine")
    board_services.board_add_images(board=own, viewer=user, image_ids=[secret.pk])
    mine = share(clients["owner"], board=own.pk)
    assert anonymous.get(files_of(mine, secret)[0]).status_code == 200


def test_revoked_or_expired_is_404_for_the_page_and_every_file_at_once(clients, user):
    image = finished(user)[0]
    path = share(clients["owner"], image=image.pk)
    public = Client()
    urls = [path, *files_of(path, image)]
    assert all(public.get(url).status_code == 200 for url in urls)
    link = ShareLink.objects.get()
    response = clients["owner"].post(f"/shares/{link.pk}/revoke/", headers=htmx_headers())
    assert response.status_code == 200 and "Revoked" in response.content.decode()
    assert [public.get(url).status_code for url in urls] == [404, 404, 404]
    # The visitor is not sent on to a studio they cannot enter.
    ended = public.get(path).content.decode()
    assert "Not found" in ended and "Back to the studio" not in ended
    assert ">Sign in to the studio</a>" in ended

    path = share(clients["owner"], image=image.pk, expires="1")
    link = ShareLink.objects.latest("pk")
    assert timedelta(hours=23) < link.expires_at - timezone.now() <= timedelta(days=1)
    assert public.get(path).status_code == 200
    ShareLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert [public.get(url).status_code for url in [path, *files_of(path, image)]] == [404] * 3
    assert public.get("/s/not-a-real-token/").status_code == 404
    assert public.get("/s/" + "x" * 300 + "/").status_code == 404


def test_a_deleted_image_or_a_deactivated_maker_ends_the_link(clients, user):
    image = finished(user)[0]
    path = share(clients["owner"], image=image.pk, expires="never")
    assert ShareLink.objects.get().expires_at is None
    public = Client()
    assert public.get(path).status_code == 200
    user.is_active = False
    user.save()
    assert public.get(path).status_code == 404
    user.is_active = True
    user.save()
    Image.objects.filter(pk=image.pk).update(deleted_at=timezone.now())
    assert public.get(path).status_code == 404


def test_who_may_share_what(clients, user, other_user):
    mine = finished(user)[0]
    secret = finished(user, "private", private=True)[0]
    private_board = board_services.board_create(owner=user, name="Mine", shared=False)
    shared_board = board_services.board_create(owner=user, name="Ours")
    for headers in ({}, htmx_headers()):
        share(clients["member"], 404, headers, image=secret.pk)
        share(clients["member"], 404, headers, run=secret.run_id)
        share(clients["member"], 404, headers, board=private_board.pk)
        share(clients["member"], 403, headers, image=mine.pk)
        share(clients["member"], 403, headers, run=mine.run_id)
        share(clients["member"], 403, headers, board=shared_board.pk)
        assert clients["member"].get("/shares/new/", {"image": secret.pk}).status_code == 404
    assert not ShareLink.objects.exists()
    # Something private is shared by its owner alone: an admin's link shows what a member
    # would see, so it would show nothing (refused, with why).
    for target in ({"image": secret.pk}, {"run": secret.run_id}, {"board": private_board.pk}):
        for headers in ({}, htmx_headers()):
            refused = clients["admin"].post(
                "/shares/new/", {"expires": "7", **target}, headers=headers
            )
            assert refused.status_code == 403
            assert "only they can share it" in refused.content.decode()
    assert not ShareLink.objects.exists()
    share(clients["admin"], image=mine.pk)
    share(clients["owner"], board=private_board.pk)
    # Bad input: a clear 400, nothing made.
    share(clients["owner"], 400, image=mine.pk, expires="12")
    share(clients["owner"], 400, image=mine.pk, run=mine.run_id)
    share(clients["owner"], 400)
    share(clients["owner"], 400, image="x")
    assert ShareLink.objects.count() == 2


def test_the_share_form_plain_and_htmx(clients, user):
    image = finished(user)[0]
    page = clients["owner"].get("/shares/new/", {"image": image.pk})
    assert page.status_code == 200 and "<h1>Share link</h1>" in page.content.decode()
    fragment = clients["owner"].get("/shares/new/", {"image": image.pk}, headers=htmx_headers())
    html = fragment.content.decode()
    assert "<html" not in html and "Include prompt" in html and "In 30 days" in html
    gallery = clients["owner"].get("/").content.decode()
    assert f"/shares/new/?run={image.run_id}" in gallery
    assert f"/shares/new/?run={image.run_id}" not in clients["member"].get("/").content.decode()
    lightbox = clients["owner"].get(f"/images/{image.pk}/", headers=htmx_headers())
    assert f"/shares/new/?image={image.pk}" in lightbox.content.decode()


def test_share_link_is_offered_only_to_who_may_share(clients, user, other_user):
    """A private run: its author sees Share link; an admin (who may change it) does not, as the
    link would show nothing. On another member's team run, the admin does."""
    secret = finished(user, "private plans", private=True)[0]
    teams = finished(other_user, "team picture")[0]
    private_board = board_services.board_create(owner=user, name="Mine", shared=False)
    for person, sees_private in (("owner", True), ("admin", False)):
        gallery = clients[person].get("/").content.decode()
        lightbox = clients[person].get(f"/images/{secret.pk}/", headers=htmx_headers())
        board = clients[person].get(f"/boards/{private_board.pk}/").content.decode()
        assert (f"/shares/new/?run={secret.run_id}" in gallery) is sees_private
        assert (f"/shares/new/?image={secret.pk}" in lightbox.content.decode()) is sees_private
        assert (f"/shares/new/?board={private_board.pk}" in board) is sees_private
        assert "Delete this run" in gallery  # both may still change it
    gallery = clients["admin"].get("/").content.decode()
    assert f"/shares/new/?run={teams.run_id}" in gallery


def test_admins_see_and_revoke_every_link_members_their_own(clients, user, other_user):
    share(clients["owner"], image=finished(user)[0].pk)
    share(clients["member"], image=finished(other_user, "grace's")[0].pk)
    owners, _ = ShareLink.objects.order_by("pk")
    assert clients["admin"].get("/shares/").content.decode().count("Revoke link") == 2
    listing = clients["member"].get("/shares/").content.decode()
    assert listing.count("Revoke link") == 1 and "grace&#x27;s" in listing
    assert clients["member"].post(f"/shares/{owners.pk}/revoke/").status_code == 404
    owners.refresh_from_db()
    assert owners.revoked_at is None
    assert clients["admin"].post(f"/shares/{owners.pk}/revoke/").status_code == 302
    owners.refresh_from_db()
    assert owners.revoked_at is not None


# Signed out, these and only these answer (the rest send people to sign in).
OPEN_WITHOUT_SIGNING_IN = {
    "healthz",
    "setup/",
    "accounts/login/",
    "signup/",
    "invite/<str:token>/",
    "s/<str:token>/",
    "s/<str:token>/images/<id:pk>/thumbnail.webp",
    "s/<str:token>/images/<id:pk>/original",
}


def test_signed_out_only_the_share_links_and_sign_in_pages_open(user):
    anonymous = Client()
    sign_in = reverse("login")
    opened = set()
    for route in routes():
        if route.startswith("v1/") or route.startswith("admin/"):
            continue  # the API answers 401 itself; Django's admin sends to its own sign-in
        response = anonymous.get(fill(route, "1"))
        sent_to_sign_in = response.status_code == 302 and response["Location"].startswith(sign_in)
        if not sent_to_sign_in:
            opened.add(route)
    assert opened == OPEN_WITHOUT_SIGNING_IN


def test_the_live_stream_draws_share_link_for_who_may_share(user, admin_user):
    """The stream draws a change once per version of a run: the author's private run comes to
    its author with Share link, and to an admin with Delete but without it."""
    secret = finished(user, "private plans", private=True)[0]
    Event.objects.record(Event.Kind.RUN_CHANGED, secret.run_id)
    changes = live.changes_after(after=0, limit=100, catching_up=False)
    authors, admins = changes.html_for(user), changes.html_for(admin_user)
    assert f"/shares/new/?run={secret.run_id}" in authors
    assert f"/shares/new/?run={secret.run_id}" not in admins
    assert "Delete this run" in authors and "Delete this run" in admins
