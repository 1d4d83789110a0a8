"""studio/params.py: ids, dates, months and cursors from requests, and the pages that read them.
Crafted values get a 400 (a 404 for an id nothing can have) with a sentence, never a 500."""

from datetime import date

import pytest
from django.utils import timezone

from gallery.models import Run
from studio import params
from tests.conftest import htmx_headers
from tests.factories import make_run, make_succeeded_image

HUGE = "99999999999999999999"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", 1), ("0042", 42), (str(2**63 - 1), 2**63 - 1), ("0" * 40 + "7", 7)],
)
def test_parse_id_reads_ascii_digits_in_the_databases_range(text, expected):
    assert params.parse_id(text) == expected


@pytest.mark.parametrize("text", ["0", str(2**63), HUGE, "9" * 5000])
def test_an_id_no_row_can_have_is_no_such_id(text):
    with pytest.raises(params.NoSuchId) as caught:
        params.parse_id(text, what="image")
    assert caught.value.message.startswith("There is no image number")
    assert len(caught.value.message) < 80  # the value is shortened, not echoed whole


@pytest.mark.parametrize(
    "text", ["²", "٣", "-1", "+1", "1e9", "1.0", " 1", "1\n", "", "\x00", "abc"]
)
def test_anything_else_is_a_bad_parameter(text):
    with pytest.raises(params.BadParameter) as caught:
        params.parse_id(text, what="run")
    assert not isinstance(caught.value, params.NoSuchId)
    assert "is not a valid run number" in caught.value.message


def test_id_lists_cursors_and_positions():
    assert params.parse_id_list("4,5,,9") == [4, 5, 9]
    assert params.parse_id_list("") == []
    for text in ("1,²", f"1,{HUGE}", "1;2"):
        with pytest.raises(params.BadParameter, match="separated by commas"):
            params.parse_id_list(text, what="image")
    assert params.parse_cursor("17") == 17
    for text in ("0", HUGE, "²", "-4"):
        with pytest.raises(params.BadParameter, match="page link is broken"):
            params.parse_cursor(text)
    assert params.parse_index("2", length=3) == 2
    for text, length in (("3", 3), ("²", 3), ("0", 0), ("9" * 5000, 3)):
        with pytest.raises(params.BadParameter):
            params.parse_index(text, length=length)


def test_dates_and_months_keep_a_year_from_pythons_limits():
    assert params.parse_date("2026-11-23") == date(2026, 11, 23)
    assert params.parse_date("0002-01-01") == params.FIRST_DAY
    assert params.parse_date("9998-12-31") == params.LAST_DAY
    assert params.parse_month("2026-11") == date(2026, 11, 1)
    assert params.parse_month("9998-12") == date(9998, 12, 1)
    for text in ("9999-12-31", "0001-01-01"):
        with pytest.raises(params.BadParameter, match="from 0002-01-01 to 9998-12-31"):
            params.parse_date(text, label="“To”")
    for text in (
        "2026-02-30",
        "٢٠٢٦-١١-٢٣",
        "20261123",
        "2026-W48-1",
        "2026-11-23\n",
        "0000-01-01",
    ):
        with pytest.raises(params.BadParameter, match="must be a date like 2026-11-23"):
            params.parse_date(text)
    for text in ("9999-12", "0001-01"):
        with pytest.raises(params.BadParameter, match="pick a month from 0002-01 to 9998-12"):
            params.parse_month(text)
    for text in ("2026-13", "0000-05", "2026-11\n", "٢٠٢٦-١١"):
        with pytest.raises(params.BadParameter, match="is not a month"):
            params.parse_month(text)


# --- the pages ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/usage/?month=0001-01", "pick a month from 0002-01 to 9998-12"),
        ("/usage/?month=9999-12", "pick a month from 0002-01 to 9998-12"),
        ("/usage.csv?month=9999-12", "pick a month from 0002-01 to 9998-12"),
        ("/?date_to=9999-12-31", "“To” must be a date from 0002-01-01 to 9998-12-31."),
        ("/?date_from=0001-01-01", "“From” must be a date from 0002-01-01 to 9998-12-31."),
        ("/?before=" + HUGE, "That page link is broken"),
        ("/?edit=²", "That “Edit” link is broken."),
        ("/?reuse=٣x", "That “Reuse settings” link is broken."),
        ("/controls/?source=image:" + HUGE, "An attached image could not be read."),
        ("/controls/?source=upload:" + HUGE, "An attached image could not be read."),
        ("/controls/?source=image:²", "An attached image could not be read."),
    ],
)
def test_crafted_values_are_a_400_with_a_sentence(signed_in, url, message):
    for headers in ({}, htmx_headers()):
        response = signed_in.get(url, headers=headers)
        body = response.content.decode()
        assert response.status_code == 400, url
        assert message in body
        assert "invalid literal" not in body and "ValueError" not in body


def test_an_id_too_large_for_the_database_is_a_404(signed_in, user):
    run = make_run(user)
    for url in (
        f"/?edit={HUGE}",
        f"/?reuse={HUGE}",
        f"/runs/{HUGE}/",
        f"/runs/{2**63}/progress/",
        "/runs/0/",
        f"/images/{HUGE}/",
        f"/uploads/{HUGE}/thumbnail.webp",
        f"/team/members/{HUGE}/active/",
    ):
        assert signed_in.get(url).status_code == 404, url
    # Those in range still reach the view, and on it the database.
    assert signed_in.get(f"/runs/{2**63 - 1}/").status_code == 404
    assert signed_in.get(f"/runs/{run.pk}/").status_code == 200
    assert signed_in.get(f"/runs/{'0' * 20}{run.pk}/").status_code == 200


def test_estimate_and_generate_refuse_a_huge_source_without_a_500(signed_in):
    assert signed_in.get("/estimate/", {"source": f"image:{HUGE}"}).status_code == 200
    response = signed_in.post(
        "/generate/", {"prompt": "a fox", "model": "offline/aurora", "source": f"upload:{HUGE}"}
    )
    assert response.status_code == 400
    assert "An attached image could not be read." in response.content.decode()
    assert not Run.objects.exists()


def test_progress_names_a_broken_pending_list(signed_in, user):
    run = make_run(user)
    for pending in ("1,²", f"1,{HUGE}"):
        response = signed_in.get(f"/runs/{run.pk}/progress/", {"pending": pending})
        assert response.status_code == 400
        assert "is not a list of image numbers separated by commas" in response.content.decode()


def test_a_broken_picker_position_is_ignored(signed_in):
    """The prompt box's hints (which picker changed, which model to remove) are ignored when
    they name no picker, rather than crashing the redraw."""
    models = {"model": ["offline/aurora", "offline/mosaic"], "compare": "on"}
    removed = signed_in.get("/controls/", {**models, "action": "remove_model:1"})
    assert removed.content.decode().count('name="model"') == 1
    for data, trigger in (
        ({**models, "action": "remove_model:²"}, ""),
        ({**models, "action": f"remove_model:{HUGE}"}, ""),
        (models, "model-²"),
        ({**models, "output_compression": "²"}, ""),
    ):
        headers = {**htmx_headers(), "HX-Trigger": trigger}
        response = signed_in.get("/controls/", data, headers=headers)
        assert response.status_code == 200
        assert response.content.decode().count('name="model"') >= 2


def test_the_star_buttons_next_is_a_path_on_this_site_or_ignored(signed_in, user):
    image = make_succeeded_image(make_run(user).images.get())
    for target in ("studio", HUGE, "//evil.example/", "https://evil.example/"):
        response = signed_in.post(f"/images/{image.pk}/star/", {"next": target})
        assert response.status_code == 302
        assert response["Location"] == f"/#image-{image.pk}"
    response = signed_in.post(f"/images/{image.pk}/star/", {"next": "/?starred=on"})
    assert response["Location"] == "/?starred=on"


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_the_first_and_last_days_work_in_any_time_zone(signed_in, settings, zone):
    """A day from the ends of the range, as local midnight in UTC (up to 14 hours away), and
    the months around the first and last ones, all stay inside Python's dates."""
    settings.TIME_ZONE = zone
    timezone.deactivate()
    for url in (
        "/?date_from=0002-01-01&date_to=9998-12-31",
        "/?date_from=9998-12-31",
        "/?date_to=0002-01-01",
        "/usage/?month=0002-01",
        "/usage/?month=9998-12",
        "/usage.csv?month=9998-12",
    ):
        assert signed_in.get(url).status_code == 200, url
