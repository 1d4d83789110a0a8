"""Pages and fragments are compressed on the wire; images and event streams are not."""

import gzip

import pytest
from django.http import StreamingHttpResponse
from django.test import RequestFactory

from gallery.models import Run
from studio.compression import CompressPagesMiddleware
from tests.conftest import htmx_headers
from tests.factories import make_run, make_succeeded_image

GZIP = {"Accept-Encoding": "gzip, br"}


@pytest.mark.django_db
def test_a_gallery_page_of_twenty_runs_is_under_20_kb_on_the_wire(signed_in, user):
    for n in range(21):
        run = make_run(user, prompt=f"a lighthouse on a cliff, take {n}", count=4)
        for image in run.images.all():
            make_succeeded_image(image)
    page = signed_in.get("/", headers=GZIP)
    # The next page starts after the 20th newest run (ids are not 1-21 on every database).
    cursor = Run.objects.order_by("-pk").values_list("pk", flat=True)[19]
    more = signed_in.get(
        f"/?before={cursor}", headers={**GZIP, **htmx_headers()}, HTTP_HX_TARGET="gallery-more"
    )
    for response in (page, more):
        assert response.status_code == 200
        assert response["Content-Encoding"] == "gzip"
        html = gzip.decompress(response.content)
        assert b'class="run"' in html
    assert len(page.content) < 20 * 1024 < len(gzip.decompress(page.content))
    assert len(more.content) < 20 * 1024


@pytest.mark.django_db
def test_images_are_not_compressed_again(signed_in, user):
    image = make_succeeded_image(make_run(user).images.get())
    response = signed_in.get(f"/images/{image.pk}/thumbnail.webp", headers=GZIP)
    assert response.status_code == 200
    assert "Content-Encoding" not in response


def test_an_event_stream_is_not_held_in_a_compressor():
    request = RequestFactory().get("/events/", headers=GZIP)
    stream = StreamingHttpResponse(iter([b"data: 1\n\n"] * 40), content_type="text/event-stream")
    response = CompressPagesMiddleware(lambda r: stream)(request)
    assert "Content-Encoding" not in response
