"""Processes the tests start (the worker, the web server) work on the test's own database and
file storage, on SQLite and PostgreSQL alike, and leave nothing behind in the project folder."""

import subprocess
import sys

import pytest

from gallery import files
from tests.browser import BASE_DIR, worker_env
from tests.factories import make_run, make_succeeded_image

pytestmark = pytest.mark.django_db(transaction=True)

READ_BACK = (
    "from gallery.models import Image; from gallery import files; "
    "image = Image.objects.get(); print(image.pk, len(files.read(image.file.name)))"
)


def test_a_child_process_reads_the_test_database_and_files(user, settings):
    image = make_succeeded_image(make_run(user).images.get())
    before = sorted(p.name for p in BASE_DIR.iterdir())
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", READ_BACK],
        cwd=BASE_DIR,
        env=worker_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(image.pk), str(len(files.read(image.file.name)))]
    # No database file made on the way (a SQLite URL naming a PostgreSQL test database would).
    assert sorted(p.name for p in BASE_DIR.iterdir()) == before
