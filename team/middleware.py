"""Sign-in for every URL, the one-time "create the admin account" page on a fresh install, and
Secure cookies whenever the request came over https."""

from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequired
from django.shortcuts import redirect
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

_users_exist = False


def any_user_exists() -> bool:
    """True once any account exists; remembered per process, which is right across processes
    too: it never becomes false again, and a process that has not seen it yet asks the database."""
    global _users_exist
    if not _users_exist:
        _users_exist = get_user_model().objects.exists()
    return _users_exist


def forget_users_exist() -> None:
    """For tests that start from an empty database."""
    global _users_exist
    _users_exist = False


class FirstRunMiddleware:
    """Until the first account exists, every page leads to the setup page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        setup_url = reverse("setup")
        # Static files; /healthz (it reads no accounts); the API (/v1/, api/endpoints.py): a
        # script is answered 401 in JSON, not sent to a page.
        exempt = request.path.startswith(("/static/", "/v1/")) or request.path in (
            setup_url,
            reverse("healthz"),
        )
        if not exempt and not any_user_exists():
            if getattr(request, "htmx", False):
                return HttpResponseClientRedirect(setup_url)
            return redirect(setup_url)
        return self.get_response(request)


class LoginRequiredMiddleware(DjangoLoginRequired):
    """Django's middleware, but an htmx request is sent to the sign-in page as a whole page."""

    def handle_no_permission(self, request, view_func):
        if getattr(request, "htmx", False):
            # Come back to the page the fragment was on, not to the fragment itself.
            page = urlsplit(request.htmx.current_url or "/").path or "/"
            return HttpResponseClientRedirect(f"{reverse('login')}?{urlencode({'next': page})}")
        return super().handle_no_permission(request, view_func)


class SecureCookiesOverHttpsMiddleware:
    """Mark the session and CSRF cookies Secure whenever the request came over https, even
    when SESSION_COOKIE_SECURE is not set (it must stay off for a plain-http local studio)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.is_secure():
            for name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME):
                if name in response.cookies:
                    response.cookies[name]["secure"] = True
        return response
