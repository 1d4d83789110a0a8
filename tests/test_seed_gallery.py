"""manage.py seed_gallery: rows, real files that match them, and the guard against big galleries."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.utils import timezone
from PIL import Image as PILImage

from gallery.models import Image, PromptHistory, Run

pytestmark = pytest.mark.django_db

OFFLINE_MODELS = {"offline/aurora", "offline/mosaic", "offline/blueprint"}


def opened(name: str) -> PILImage.Image:
    with default_storage.open(name, "rb") as f:
        im = PILImage.open(f)
        im.load()
    return im


def test_seed_gallery_writes_rows_and_matching_files(capsys):
    call_command("seed_gallery", runs=30, images_per_run=4, users=2, realistic=2)

    users = get_user_model().objects.filter(username__startswith="seed").order_by("username")
    assert [u.username for u in users] == ["seed1", "seed2"]
    assert all(u.check_password("seed-passphrase") for u in users)

    runs = list(Run.objects.order_by("id"))
    assert len(runs) == 30
    assert Image.objects.count() == 30 * 4
    assert {run.created_by.username for run in runs} <= {"seed1", "seed2"}
    for run in runs:
        images = list(run.images.all())
        assert len(images) == len(run.model_ids) * run.count
        assert set(run.model_ids) <= OFFLINE_MODELS
        assert run.compare == (len(run.model_ids) > 1)
        assert {i.model for i in images} == set(run.model_ids)
        assert run.prompt and set(run.settings) == {"aspect_ratio", "resolution", "size", "quality"}

    # created_at grows with the id, spread over the past months, not all "now".
    stamps = [run.created_at for run in runs]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    now = timezone.now()
    assert now - timedelta(days=181) < stamps[0] < now - timedelta(days=150)
    assert stamps[-1] <= now
    for image in Image.objects.select_related("run"):
        assert image.queued_at == image.run.created_at
        assert image.started_at <= image.finished_at

    realistic_runs = {run.pk for run in runs[-2:]}
    for image in Image.objects.all():
        assert image.status == Image.Status.SUCCEEDED and image.is_done
        assert image.format == "png"
        assert image.file.name.startswith("images/seed/")
        assert image.thumbnail.name.startswith("thumbs/seed/")
        assert image.bytes == default_storage.size(image.file.name)
        original = opened(image.file.name)
        assert original.format == "PNG"
        assert original.size == (image.width, image.height)
        thumbnail = opened(image.thumbnail.name)
        assert thumbnail.format == "WEBP"
        assert thumbnail.size == (image.thumb_width, image.thumb_height)
        if image.run_id in realistic_runs:
            # Drawn by the offline renderer at the requested size, with a 512-px thumbnail.
            assert (image.width, image.height) == (image.expected_width, image.expected_height)
            assert max(image.width, image.height) >= 1024
            assert max(image.thumb_width, image.thumb_height) == 512
        else:
            assert (image.thumb_width, image.thumb_height) == (image.width, image.height)
            assert max(image.width, image.height) <= 160
            # The small picture has the shape the run asked for.
            assert image.width / image.height == pytest.approx(
                image.expected_width / image.expected_height, rel=0.05
            )

    # Distinct pictures, not one file copied.
    sample = Image.objects.order_by("id")[:12]
    assert len({opened(i.file.name).tobytes() for i in sample}) == 12
    assert PromptHistory.objects.filter(user__username="seed1").exists()
    assert "Seeded 30 runs and 120 images" in capsys.readouterr().out


def test_seed_gallery_reuses_users_and_uses_worker_processes():
    get_user_model().objects.create_user("seed1", password="someone-elses-passphrase")

    call_command("seed_gallery", runs=40, images_per_run=2, users=1, workers=2, verbosity=0)

    user = get_user_model().objects.get(username="seed1")
    assert user.check_password("someone-elses-passphrase")  # an existing account is left alone
    assert Run.objects.filter(created_by=user).count() == 40
    assert Image.objects.count() == 80
    image = Image.objects.order_by("-id").first()
    assert opened(image.file.name).size == (image.width, image.height)
    assert opened(image.thumbnail.name).format == "WEBP"


def test_seed_gallery_refuses_a_big_gallery_unless_forced(user):
    Run.objects.bulk_create(
        Run(created_by=user, prompt=f"run {i}", model_ids=["offline/aurora"]) for i in range(1001)
    )

    with pytest.raises(CommandError, match=r"already has 1,001 runs.*--force"):
        call_command("seed_gallery", runs=5, images_per_run=1, users=1)
    assert Run.objects.count() == 1001
    assert not Image.objects.exists()

    call_command("seed_gallery", runs=5, images_per_run=1, users=1, force=True, verbosity=0)
    assert Run.objects.count() == 1006
    assert Image.objects.count() == 5
