"""The seed's rows: the demo accounts, each group of planned runs with its images in one
transaction, and the authors' recent prompts."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import OuterRef, Subquery

from gallery.models import Image, PromptHistory, Run
from gallery.seeding.plan import PlannedRun

PASSWORD = "seed-passphrase"  # noqa: S105 (the seeded demo accounts' password)
HISTORY_PER_USER = 20


def seed_users(count: int) -> tuple[list, list[str]]:
    """The authors seed1..seed<count>, and the names of those that had to be created; accounts
    that already exist are left alone."""
    user_model = get_user_model()
    names = [f"seed{i}" for i in range(1, count + 1)]
    found = {u.get_username(): u for u in user_model.objects.filter(username__in=names)}
    missing = [name for name in names if name not in found]
    if missing:
        # One hash for all of them: hashing costs most of a second each.
        password = make_password(PASSWORD)
        for name in missing:
            user = user_model.objects.create_user(name, f"{name}@example.com")
            user.password = password
            user.save(update_fields=["password"])
            found[name] = user
    return [found[name] for name in names], missing


def write_runs(planned: list[PlannedRun], authors: list) -> tuple[int, int]:
    """Writes a group's runs and images (their files already stored) in one transaction;
    returns how many of each."""
    with transaction.atomic():
        runs = Run.objects.bulk_create(
            Run(
                created_by=authors[plan.user_index],
                prompt=plan.prompt,
                compare=plan.compare,
                model_ids=plan.model_ids,
                count=plan.count,
                settings=plan.settings,
            )
            for plan in planned
        )
        # created_at is auto_now_add: bulk_create stamped "now"; spread them over the months.
        for run, plan in zip(runs, planned, strict=True):
            run.created_at = plan.created_at
        Run.objects.bulk_update(runs, ["created_at"], batch_size=250)
        rows = []
        for run, plan in zip(runs, planned, strict=True):
            for image in plan.images:
                started_at = plan.created_at + timedelta(seconds=0.05)
                rows.append(
                    Image(
                        run=run,
                        model=image.model,
                        column=image.column,
                        position=image.position,
                        status=Image.Status.SUCCEEDED,
                        request=image.request,
                        expected_width=image.expected_width,
                        expected_height=image.expected_height,
                        attempts=1,
                        started_at=started_at,
                        finished_at=started_at + timedelta(seconds=image.latency),
                        file=image.file_name,
                        thumbnail=image.thumb_name,
                        width=image.width,
                        height=image.height,
                        thumb_width=image.thumb_width,
                        thumb_height=image.thumb_height,
                        bytes=image.bytes,
                        format=image.format,
                        latency=image.latency,
                        cost=image.estimated_cost,
                        estimated_cost=image.estimated_cost,
                        starred=image.starred,
                    )
                )
        Image.objects.bulk_create(rows, batch_size=2000)
        # queued_at is auto_now_add too: an image is queued when its run is created.
        Image.objects.filter(run_id__in=[run.pk for run in runs]).update(
            queued_at=Subquery(Run.objects.filter(pk=OuterRef("run_id")).values("created_at")[:1])
        )
    return len(runs), len(rows)


def remember_prompts(authors: list) -> None:
    """Each author's newest prompts in their recent-prompts list, as if they had typed them."""
    rows = []
    for user in authors:
        seen = set()
        newest = Run.objects.filter(created_by=user).order_by("-id")
        for prompt, created_at in newest.values_list("prompt", "created_at")[:100]:
            if prompt not in seen and len(seen) < HISTORY_PER_USER:
                seen.add(prompt)
                rows.append(
                    PromptHistory(
                        user=user,
                        prompt=prompt,
                        prompt_hash=PromptHistory.hash_prompt(prompt),
                        used_at=created_at,
                    )
                )
    PromptHistory.objects.bulk_create(rows, ignore_conflicts=True)
