"""The answer to a request the studio refuses or cannot read: one sentence for a person.

Every such answer goes through `message_response`, so a refusal reads and behaves the same on
every page. A plain request gets the message page (its title, the sentence, a way back). An htmx
request gets the sentence as plain text with `HX-Reswap: none`, so nothing on the page is replaced
by it, and a `toast` event that studio.js shows; a 4xx also reaches studio.js's error toast, which
shows the same sentence once.
"""

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import reswap, trigger_client_event

MESSAGE_PAGE = "message.html"


def message_response(
    request: HttpRequest, *, title: str, message: str, status: int
) -> HttpResponse:
    """`message` as a toast over htmx, else on the message page headed `title`; `status` either
    way. The request may not have been through HtmxMiddleware (an error handler can run first)."""
    if getattr(request, "htmx", False):
        response = HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
        return trigger_client_event(reswap(response, "none"), "toast", {"message": message})
    return render(request, MESSAGE_PAGE, {"title": title, "message": message}, status=status)


def bad_request(request: HttpRequest, message: str) -> HttpResponse:
    """Input that cannot be read (a broken link, a crafted value): a 400 saying why, never a
    500, and nothing changed."""
    return message_response(request, title="That didn't work", message=message, status=400)


def redirect_back(request: HttpRequest, fallback: str) -> HttpResponseRedirect:
    """A plain form's answer: back to the page it was on (the posted `next`) if that is a path
    on this site, else to `fallback`. Not through redirect(), which takes a bare word ("studio")
    for the name of a view to look up."""
    target = request.POST.get("next", "")
    on_this_site = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})
    return HttpResponseRedirect(target if on_this_site and target.startswith("/") else fallback)


def confirmed(request: HttpRequest) -> bool:
    """Whether a destructive POST was confirmed: by the browser's dialog (htmx's hx-confirm,
    sending `confirmed=1` with hx-vals) or by confirm_page's form."""
    return request.POST.get("confirmed") == "1"


def confirm_page(
    request: HttpRequest, *, title: str, question: str, button: str, back: str, back_label: str
) -> HttpResponse:
    """Without JavaScript there was no confirm dialog: ask on a page of its own, whose form
    posts the same request again, confirmed. `back`: where "no" goes."""
    context = {
        "title": title,
        "question": question,
        "button": button,
        "url": request.path,
        "back": back,
        "back_label": back_label,
    }
    return render(request, "confirm.html", context)
