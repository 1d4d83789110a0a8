"""Streamed responses stay streamed under ASGI (studio/streaming.py): an original image and a
run's "Download all" zip reach the ASGI server as asynchronous iterators, a piece at a time,
rather than read whole into memory first; under WSGI nothing changes."""

import asyncio
import io
import warnings
import zipfile

import pytest
from django.test import AsyncClient, Client

from tests.factories import make_run, make_succeeded_image

pytestmark = pytest.mark.django_db(transaction=True)


def fetch_over_asgi(user, url: str):
    """The response as the ASGI handler sends it (its async iterator), and any warnings."""

    async def fetch():
        client = AsyncClient()
        await client.aforce_login(user)
        response = await client.get(url)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            body = b"".join([piece async for piece in response])
        return response, body, [str(w.message) for w in caught]

    return asyncio.run(fetch())


def test_an_original_and_a_zip_are_streamed_piece_by_piece_under_asgi(user):
    run = make_run(user, count=2)
    images = [make_succeeded_image(image) for image in run.images.all()]

    response, body, caught = fetch_over_asgi(user, f"/images/{images[0].pk}/original")
    assert response.status_code == 200 and response.is_async
    assert body == images[0].file.open("rb").read()
    assert caught == []  # not "must consume synchronous iterators" (read whole first)

    response, body, caught = fetch_over_asgi(user, f"/runs/{run.pk}/download/")
    assert response.status_code == 200 and response.is_async
    assert len(zipfile.ZipFile(io.BytesIO(body)).namelist()) == 2
    assert caught == []


def test_under_wsgi_responses_are_left_as_they_are(user):
    run = make_run(user)
    image = make_succeeded_image(run.images.get())
    client = Client()
    client.force_login(user)
    response = client.get(f"/images/{image.pk}/original")
    assert response.streaming and not response.is_async
