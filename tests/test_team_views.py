"""The Team page's policy form and the Usage page: plain and htmx requests, totals, the CSV."""

import csv
import io
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from gallery.models import Image
from team.models import TeamPolicy
from tests.conftest import htmx_headers
from tests.test_team_quotas import month_start, run_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def policy_data(**overrides) -> dict:
    data = {
        "scope": "all",
        "daily_image_limit": "",
        "monthly_budget_usd": "",
        "signup_domain": "",
    }
    data.update(overrides)
    return data


# --- the Team page --------------------------------------------------------------------------------


def test_the_team_page_lists_members_with_their_images_this_month(admin_client, user, other_user):
    run_of(user, 3)
    run_of(user, 2, status=Image.Status.FAILED)
    run_of(user, 4, created_at=month_start() - timedelta(seconds=1))  # last month
    run_of(other_user, 1)
    response = admin_client.get("/team/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<th scope="row">ada</th>' in html and "ada@example.com" in html
    rows = {
        name: html.split(f'<th scope="row">{name}', 1)[1].split("</tr>", 1)[0]
        for name in ("ada", "grace", "root")
    }
    assert '<td class="num">3</td>' in rows["ada"]
    assert '<td class="num">1</td>' in rows["grace"]
    assert "Admin" in rows["root"] and "you" in rows["root"]
    assert "Deactivate ada" in rows["ada"] and "Deactivate root" not in rows["root"]
    # Every catalog model with a price, grouped by provider; offline ones are not listed.
    assert 'value="gpt-image-2"' in html and "<legend>OpenAI</legend>" in html
    assert 'value="offline/aurora"' not in html
    assert 'href="/static/css/team.css"' in html or "team.css" in html
    # A model the gateway deactivated is not offered for the allowlist (nor its name listed).
    assert 'value="alibaba/qwen-image-3.0"' in html
    assert 'value="alibaba/qwen-image-edit-plus"' not in html and "Qwen Image Edit Plus" not in html
    assert 'value="reve/reve-create"' not in html


def test_the_nav_shows_team_to_admins_only(admin_client, user):
    assert b'href="/team/"' in admin_client.get("/usage/").content
    member = Client()
    member.force_login(user)
    member_page = member.get("/usage/").content
    assert b'href="/usage/"' in member_page and b'href="/team/"' not in member_page


def test_saving_the_policy(admin_client, admin_user):
    response = admin_client.post(
        "/team/policy/",
        policy_data(
            scope="only",
            models=["gpt-image-2", "zai/cogview-4"],
            daily_image_limit="20",
            monthly_budget_usd="50",
            signup_domain="@Example.COM",
        ),
    )
    assert response.status_code == 302 and response["Location"] == "/team/"
    policy = TeamPolicy.current()
    assert policy.allowed_models == ["gpt-image-2", "zai/cogview-4"]
    assert policy.daily_image_limit == 20
    assert policy.monthly_budget_usd == Decimal("50.00")
    assert policy.signup_domain == "example.com"
    assert policy.updated_by == admin_user
    page = admin_client.get("/team/").content.decode()
    assert "Team settings saved." in page
    assert (
        'value="gpt-image-2" checked' in page
        and 'value="zai/cogview-4" checked' in page
        and 'value="meta/muse-image-1.0" checked' not in page
        and 'value="meta/muse-image-1.0"' in page
    )

    # "All models" empties the allowlist; empty limits mean unlimited.
    admin_client.post("/team/policy/", policy_data(models=["gpt-image-2"]))
    policy = TeamPolicy.current()
    assert policy.allowed_models == []
    assert policy.daily_image_limit is None and policy.monthly_budget_usd is None
    assert policy.signup_domain == ""


def test_a_bad_policy_is_explained_and_nothing_is_saved(admin_client):
    response = admin_client.post(
        "/team/policy/",
        policy_data(scope="only", daily_image_limit="-1", signup_domain="not a domain"),
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Tick at least one model, or choose All models." in html
    assert "greater than or equal to 0" in html
    assert "is not a domain" in html
    policy = TeamPolicy.current()
    assert policy.allowed_models == [] and policy.daily_image_limit is None


def test_saving_the_policy_with_htmx_redraws_the_form(admin_client):
    response = admin_client.post(
        "/team/policy/", policy_data(monthly_budget_usd="12.5"), headers=htmx_headers("/team/")
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="policy"') and "Saved." in html
    assert 'value="12.50"' in html
    bad = admin_client.post(
        "/team/policy/", policy_data(monthly_budget_usd="lots"), headers=htmx_headers("/team/")
    )
    assert bad.status_code == 422 and b"Enter a number." in bad.content


# --- the Usage page -------------------------------------------------------------------------------


@pytest.fixture
def usage(user, other_user):
    """This month: ada 3 GPT images ($0.04 estimated each) and 1 known at $0.20; grace 2 Qwen
    at $0.03; plus rows that must not count (failed, last month)."""
    today = timezone.localdate()
    morning = timezone.make_aware(datetime.combine(today, datetime.min.time())) + timedelta(hours=9)
    run_of(user, 3, estimated="0.04", created_at=morning)
    run_of(user, 1, estimated="0.04", cost="0.20", created_at=morning)
    run_of(other_user, 2, model="alibaba/qwen-image-plus", estimated="0.03", created_at=morning)
    run_of(user, 5, estimated="1.00", status=Image.Status.FAILED, created_at=morning)
    run_of(user, 7, estimated="1.00", created_at=month_start() - timedelta(hours=1))
    return today


def test_the_usage_page_adds_up_the_month(signed_in, usage):
    TeamPolicy.objects.update_or_create(pk=1, defaults={"monthly_budget_usd": Decimal("1.00")})
    response = signed_in.get("/usage/")
    assert response.status_code == 200
    report = response.context["report"]
    assert report.images == 6
    assert report.cost == Decimal("0.38")  # 3 × 0.04 + 0.20 + 2 × 0.03
    assert report.estimated == Decimal("0.18")
    assert [(p.label, p.images, p.cost) for p in report.people] == [
        ("ada", 4, Decimal("0.32")),
        ("grace", 2, Decimal("0.06")),
    ]
    assert [(m.key, m.images) for m in report.models] == [
        ("gpt-image-2", 4),
        ("alibaba/qwen-image-plus", 2),
    ]
    assert len(report.days) == len([d for d in report.days if d.day.month == usage.month])
    assert [d.images for d in report.days if d.images] == [6]
    html = response.content.decode()
    assert "38%<span" in html and "$0.38 of $1.00" in html and "$0.62 left" in html
    assert "GPT Image 2" in html and "Qwen Image Plus" in html
    assert html.count('class="chart-bar"') == 1
    assert "style=" not in html.split("<main", 1)[1]  # the CSP forbids inline styles
    assert "everyone sees this page" in html


def test_the_usage_csv(signed_in, usage):
    response = signed_in.get(f"/usage.csv?month={usage:%Y-%m}")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="usage-{usage:%Y-%m}.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == [
        "date", "member", "model", "model_name", "images", "cost_usd", "estimated_usd",
    ]  # fmt: skip
    day = usage.isoformat()
    assert rows[1:] == [
        [day, "ada", "gpt-image-2", "GPT Image 2", "4", "0.320000", "0.120000"],
        [day, "grace", "alibaba/qwen-image-plus", "Qwen Image Plus", "2", "0.060000", "0.060000"],
    ]


def test_the_csv_defuses_spreadsheet_formulas(signed_in, django_user_model):
    sneaky = django_user_model.objects.create_user("-2+3", password="a-long-passphrase-9")
    run_of(sneaky, 1)
    rows = list(csv.reader(io.StringIO(signed_in.get("/usage.csv").content.decode())))
    assert rows[1][1] == "'-2+3"


def test_another_month_and_an_empty_one(signed_in, usage):
    last = (month_start() - timedelta(days=1)).date()
    response = signed_in.get(f"/usage/?month={last:%Y-%m}")
    assert response.status_code == 200
    assert response.context["report"].images == 7
    assert b"This month</a>" in response.content
    empty = signed_in.get("/usage/?month=2001-02")
    assert empty.status_code == 200 and b"No images in February 2001." in empty.content
    assert len(empty.context["report"].days) == 28


@pytest.mark.parametrize(
    "month", ["2026-13", "2026-1", "november", "2026-00", "0000-05", "2026-11-01"]
)
def test_a_malformed_month_is_a_clear_400(signed_in, month):
    for url in ("/usage/", "/usage.csv"):
        response = signed_in.get(url, {"month": month})
        assert response.status_code == 400
        assert b"is not a month. Write it as year-month, like 2026-11." in response.content


def test_usage_needs_sign_in(client, user):
    assert client.get("/usage/").status_code == 302
    assert client.get("/usage.csv").status_code == 302
