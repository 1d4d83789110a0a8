"""The team's pages: members, invites and the policy (admins), and usage (everyone). Each view
parses with a form, calls one service or selector and renders; an htmx request gets the section it
changed, a plain POST a redirect. The pages for getting in (setup, sign-in, invite links, sign-up)
are in team/account_views.py."""

import csv
from datetime import date, datetime

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from studio import params
from studio.responses import message_response
from team import selectors, services
from team.forms import InviteForm, MemberActiveForm, PolicyForm, catalog_groups
from team.models import Invite, TeamPolicy
from team.presenters import UsagePage

TEAM = "team/team.html"
NEW_INVITE = "team-new-invite"


def _admin_only(request) -> None:
    # A 404, not a 403: members need not learn the page exists. Checked in every view, since
    # any fragment can be requested directly.
    if not request.user.is_staff:
        raise Http404("No such page.")


# --- /team/ -----------------------------------------------------------------------------------


def _team_context(request, **overrides) -> dict:
    policy = TeamPolicy.current()
    context = {
        "members": selectors.members_with_usage(),
        "invites": selectors.invites_pending(),
        "invite_form": InviteForm(),
        "policy": policy,
        "policy_form": PolicyForm.for_policy(policy),
        "new_invite": None,
        "members_error": "",
        "policy_saved": False,
    }
    context.update(overrides)
    context["model_groups"] = catalog_groups()
    if new_invite := context["new_invite"]:
        context["new_invite"] = {
            **new_invite,
            "expires_at": datetime.fromisoformat(new_invite["expires_at"]),
        }
    context["models_ticked"] = context["policy_form"].selected_models()
    return context


@require_GET
def team(request):
    _admin_only(request)
    # The link of an invite just made (plain POST, then this redirect) is shown this once.
    new_invite = request.session.pop(NEW_INVITE, None)
    return render(request, TEAM, _team_context(request, new_invite=new_invite))


@require_POST
def invite_create(request):
    _admin_only(request)
    form = InviteForm(request.POST)
    if not form.is_valid():
        if request.htmx:
            context = _team_context(request, invite_form=form)
            return render(request, f"{TEAM}#invites", context, status=422)
        return render(request, TEAM, _team_context(request, invite_form=form), status=400)
    invite, token = services.invite_create(
        created_by=request.user, email=form.cleaned_data["email"], days=form.cleaned_data["days"]
    )
    new_invite = {
        "url": request.build_absolute_uri(reverse("invite_accept", args=[token])),
        "email": invite.email,
        "expires_at": invite.expires_at.isoformat(),
    }
    if request.htmx:
        return render(request, f"{TEAM}#invites", _team_context(request, new_invite=new_invite))
    request.session[NEW_INVITE] = new_invite
    return redirect("team")


@require_POST
def invite_revoke(request, pk: int):
    _admin_only(request)
    invite = get_object_or_404(Invite, pk=pk)
    services.invite_revoke(actor=request.user, invite=invite)
    if request.htmx:
        return render(request, f"{TEAM}#invites", _team_context(request))
    messages.success(request, "Invite withdrawn: its link no longer works.")
    return redirect("team")


@require_POST
def member_set_active(request, pk: int):
    _admin_only(request)
    member = get_object_or_404(get_user_model(), pk=pk)
    form = MemberActiveForm(request.POST)
    error = ""
    if not form.is_valid():
        error = "Choose Deactivate or Reactivate."
    else:
        try:
            services.member_set_active(
                actor=request.user, member=member, active=bool(form.cleaned_data["active"])
            )
        except services.TeamError as exc:
            error = exc.message
    if request.htmx:
        context = _team_context(request, members_error=error)
        return render(request, f"{TEAM}#members", context, status=422 if error else 200)
    if error:
        messages.error(request, error)
    else:
        state = "reactivated" if member.is_active else "deactivated"
        messages.success(request, f"{member.get_username()} is {state}.")
    return redirect("team")


@require_POST
def policy_update(request):
    _admin_only(request)
    form = PolicyForm(request.POST)
    if not form.is_valid():
        context = _team_context(request, policy_form=form)
        if request.htmx:
            return render(request, f"{TEAM}#policy", context, status=422)
        return render(request, TEAM, context, status=400)
    services.policy_update(
        actor=request.user,
        allowed_models=form.allowed_model_ids(),
        daily_image_limit=form.cleaned_data["daily_image_limit"],
        monthly_budget_usd=form.cleaned_data["monthly_budget_usd"],
        signup_domain=form.cleaned_data["signup_domain"],
    )
    if request.htmx:
        return render(request, f"{TEAM}#policy", _team_context(request, policy_saved=True))
    messages.success(request, "Team settings saved.")
    return redirect("team")


# --- /usage/ ----------------------------------------------------------------------------------


def _month(request) -> date:
    """The month the URL asks for (params.BadParameter if it is not one), else this month."""
    if raw := request.GET.get("month", ""):
        return params.parse_month(raw)
    return timezone.localdate().replace(day=1)


def _bad_month(request, exc: params.BadParameter) -> HttpResponse:
    return message_response(
        request, title="That month doesn't work", message=exc.message, status=400
    )


@require_GET
def usage(request):
    try:
        first_day = _month(request)
    except params.BadParameter as exc:
        return _bad_month(request, exc)
    report = selectors.usage_for_month(year=first_day.year, month=first_day.month)
    page = UsagePage.build(
        report=report,
        budget=TeamPolicy.current().monthly_budget_usd,
        this_month=timezone.localdate().replace(day=1),
    )
    return render(request, "team/usage.html", {"page": page, "report": report})


def _csv_cell(value) -> str:
    # A cell starting with = + - @ (or a tab/return) is a formula to a spreadsheet; usernames
    # may start with some of those, and model ids come from the gateway.
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@require_GET
def usage_csv(request):
    try:
        first_day = _month(request)
    except params.BadParameter as exc:
        return _bad_month(request, exc)
    report = selectors.usage_for_month(year=first_day.year, month=first_day.month)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="usage-{report.slug}.csv"'
    writer = csv.writer(response)
    writer.writerow(
        ["date", "member", "model", "model_name", "images", "cost_usd", "estimated_usd"]
    )
    for row in report.rows:
        writer.writerow(
            [
                row.day.isoformat(),
                _csv_cell(row.username),
                _csv_cell(row.model),
                _csv_cell(row.model_label),
                row.images,
                f"{row.cost:.6f}",
                f"{row.estimated:.6f}",
            ]
        )
    return response
