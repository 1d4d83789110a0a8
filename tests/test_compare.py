"""The compare viewer's page: which images it shows to whom, and what it says to a bad list."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from gallery.models import Image, Run
from tests.conftest import htmx_headers
from tests.factories import make_run, make_succeeded_image

pytestmark = pytest.mark.django_db


def finished(user, *, count=2, private=False, models=None):
    run = make_run(user, count=count, models=models)
    if private:
        Run.objects.filter(pk=run.pk).update(is_private=True)
    return [make_succeeded_image(image) for image in run.images.order_by("column", "position")]


def compare_url(*images) -> str:
    return reverse("compare") + "?images=" + ",".join(str(getattr(i, "pk", i)) for i in images)


@pytest.fixture
def clients(user, other_user, admin_user):
    made = {}
    for who, person in (("ada", user), ("grace", other_user), ("admin", admin_user)):
        made[who] = Client()
        made[who].force_login(person)
    return made


def test_shows_the_images_in_the_order_asked(clients, user):
    first, second = finished(user)
    for headers in ({}, htmx_headers()):
        response = clients["ada"].get(compare_url(second, first), headers=headers)
        assert response.status_code == 200
        body = response.content.decode()
        assert body.index(second.original_url) < body.index(first.original_url)
        assert body.count('class="compare-pane"') == 2
        assert "Slider position" in body  # two images: the slider is offered


def test_three_or_four_images_have_no_slider(clients, user):
    images = finished(user, count=4)
    response = clients["ada"].get(compare_url(*images))
    assert response.status_code == 200
    assert response.content.decode().count('class="compare-pane"') == 4
    assert "Slider position" not in response.content.decode()


def test_a_private_run_is_its_makers_and_the_admins(clients, user, other_user):
    mine = finished(user, private=True)
    theirs = finished(other_user)
    assert clients["ada"].get(compare_url(mine[0], theirs[0])).status_code == 200
    assert clients["admin"].get(compare_url(mine[0], theirs[0])).status_code == 200
    for headers in ({}, htmx_headers()):
        response = clients["grace"].get(compare_url(mine[0], theirs[0]), headers=headers)
        assert response.status_code == 404
        assert mine[0].original_url not in response.content.decode()
    assert clients["grace"].get(compare_url(*theirs)).status_code == 200


def test_deleted_unfinished_and_unknown_images_are_not_compared(clients, user):
    shown, deleted = finished(user)
    Image.objects.filter(pk=deleted.pk).update(deleted_at=timezone.now())
    queued = make_run(user).images.get()
    for other in (deleted, queued, 987654):
        assert clients["ada"].get(compare_url(shown, other)).status_code == 404


def test_signed_out_is_sent_to_sign_in(user):
    images = finished(user)
    response = Client().get(compare_url(*images))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(
    "value, words",
    [
        ("", "Pick two to four images to compare; got 0."),
        ("{a}", "Pick two to four images to compare; got 1."),
        ("{a},{a}", "Pick two to four images to compare; got 1."),
        ("1,2,3,4,5", "Pick two to four images to compare; got 5."),
        ("{a},x", "is not a list of image numbers"),
        ("{a},²", "is not a list of image numbers"),
        ("{a},99999999999999999999", "is not a list of image numbers"),
    ],
)
def test_a_bad_list_is_a_clear_400(clients, user, value, words):
    a, b = finished(user)
    query = value.format(a=a.pk, b=b.pk)
    response = clients["ada"].get(reverse("compare"), {"images": query})
    assert response.status_code == 400
    assert words in response.content.decode()


def test_a_compare_run_links_to_its_images_side_by_side(clients, user):
    images = finished(user, count=1, models=["offline/aurora", "offline/mosaic"])
    response = clients["ada"].get(reverse("run_detail", args=[images[0].run_id]))
    assert compare_url(*images) in response.content.decode()
    plain = finished(user)
    response = clients["ada"].get(reverse("run_detail", args=[plain[0].run_id]))
    assert reverse("compare") not in response.content.decode()  # only a compare run has one


def test_the_lightbox_offers_compare_with_the_next_image(clients, user):
    first, second = finished(user)
    response = clients["ada"].get(reverse("image_detail", args=[first.pk]))
    assert compare_url(first, second) in response.content.decode()
