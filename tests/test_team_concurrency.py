"""Runs started at the same moment: the quota check and the write are serialised, so runs that
together would cross a limit cannot both get through."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import connections, transaction

from gallery import catalog
from gallery.models import Image, Run
from gallery.pricing import Estimate
from team import selectors, services
from team.models import TeamPolicy
from team.services import QuotaExceeded

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 6
GPT_IMAGE = catalog.known_models()["gpt-image-2"]


def start_run(user, *, images: int, price: Decimal) -> None:
    """What the gallery does for one Generate: check, then write the run, in one transaction."""
    with transaction.atomic():
        services.run_permit(user=user, estimate=Estimate(images=((GPT_IMAGE, price),) * images))
        # Widen the window between the check and the write, where an unserialised check races.
        time.sleep(0.05)
        run = Run.objects.create(
            created_by=user, prompt="race", model_ids=["gpt-image-2"], count=images
        )
        Image.objects.bulk_create(
            Image(run=run, model="gpt-image-2", position=n, estimated_cost=price)
            for n in range(images)
        )


def race(users, **run) -> tuple[list[str], list[str]]:
    barrier = threading.Barrier(len(users))
    passed: list[str] = []
    refused: list[str] = []
    errors: list[BaseException] = []

    def attempt(user):
        try:
            barrier.wait()
            start_run(user, **run)
            passed.append(user.username)
        except QuotaExceeded as exc:
            refused.append(exc.message)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return passed, refused


@pytest.fixture
def team_of_six(django_user_model):
    return [
        django_user_model.objects.create_user(f"member{n}", password="a-long-passphrase-1")
        for n in range(THREADS)
    ]


def test_runs_that_together_cross_the_budget_let_exactly_one_through(team_of_six):
    TeamPolicy.objects.update_or_create(pk=1, defaults={"monthly_budget_usd": Decimal("1.00")})
    # Each run costs $0.60: any one fits, any two together cross $1.00.
    passed, refused = race(team_of_six, images=4, price=Decimal("0.15"))
    assert len(passed) == 1
    assert len(refused) == THREADS - 1
    assert set(refused) == {
        "This run would cost about $0.60 but only $0.40 of this month's $1.00 budget is left."
    }
    assert Image.objects.count() == 4
    assert selectors.quota_status(user=team_of_six[0])["spent"] == Decimal("0.60")


def test_one_persons_runs_in_several_tabs_cannot_cross_the_daily_limit(team_of_six):
    TeamPolicy.objects.update_or_create(pk=1, defaults={"daily_image_limit": 5})
    same_person = [team_of_six[0]] * THREADS
    passed, refused = race(same_person, images=3, price=Decimal("0.01"))
    assert len(passed) == 1
    assert set(refused) == {"This run needs 3 images but you have 2 left today (limit 5 a day)."}
    assert Image.objects.count() == 3


def test_the_policy_row_is_made_on_first_use_even_under_a_race(team_of_six):
    assert not TeamPolicy.objects.exists()
    passed, refused = race(team_of_six, images=1, price=Decimal("0.01"))
    assert len(passed) == THREADS and not refused
    assert TeamPolicy.objects.count() == 1


def test_reserving_outside_a_transaction_is_a_programming_error(team_of_six):
    with pytest.raises(RuntimeError, match=r"inside transaction.atomic\(\)"):
        services.run_permit(
            user=team_of_six[0], estimate=Estimate(images=((GPT_IMAGE, Decimal("0.01")),))
        )
