"""The gallery's facets in a real headless Chromium, by accessible names: aspect ratio, "Failed"
and "Has edits" narrow the gallery in place and live in the address; axe on the filtered page."""

import re

import pytest

from gallery.catalog import Choice
from gallery.models import EditSource, Image
from tests.browser import assert_accessible, browser, page, sign_in  # noqa: F401
from tests.factories import make_run, make_succeeded_image

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def finished(user, prompt, ratio):
    run = make_run(user, prompt=prompt, choice=Choice(aspect_ratio=ratio, resolution="1K"))
    make_succeeded_image(run.images.get())
    return run


def test_facets_narrow_the_gallery(page, user):  # noqa: F811
    wide = finished(user, "a wide valley", "16:9")
    finished(user, "a tall tower", "9:16")
    broken = make_run(user, prompt="a broken one")
    Image.objects.filter(run=broken).update(
        status=Image.Status.FAILED, error="The provider failed."
    )
    edit = finished(user, "an edit of the valley", "16:9")
    EditSource.objects.create(run=edit, position=0, image=wide.images.get())
    sign_in(page)
    heading = page.get_by_role("heading", name=re.compile("^a |^an "))
    assert heading.count() == 4

    page.get_by_role("combobox", name="Shape").select_option(label="Portrait")
    page.wait_for_url(re.compile(r"aspect=portrait"))
    assert page.url.endswith("/?aspect=portrait")  # the filters left empty stay out of the URL
    page.get_by_role("heading", name="a wide valley").wait_for(state="detached")
    assert heading.all_inner_texts() == ["a tall tower"]

    page.get_by_role("combobox", name="Shape").select_option(label="Any shape")
    page.get_by_role("checkbox", name="Failed").check()
    page.wait_for_url(re.compile(r"failed=on"))
    page.get_by_role("heading", name="a tall tower").wait_for(state="detached")
    assert heading.all_inner_texts() == ["a broken one"]

    page.get_by_role("checkbox", name="Failed").uncheck()
    page.get_by_role("checkbox", name="Has edits").check()
    page.wait_for_url(re.compile(r"edited=on"))
    page.get_by_role("heading", name="a broken one").wait_for(state="detached")
    assert heading.all_inner_texts() == ["a wide valley"]
    assert_accessible(page)
