"""The studio's one authentication backend: Django's username-and-password check behind the
sign-in rate limit (team/signin_limit.py).

It is the only backend in AUTHENTICATION_BACKENDS, so every `authenticate()` goes through the
limit, whichever form asks: the studio's sign-in page, Django's admin form, `Client.login`. A
refusal stops `authenticate()` there; it is noted on the request, so the sign-in page can say
why instead of "wrong password".
"""

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from team import signin_limit


class RateLimitedModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        try:
            signin_limit.signin_attempt(
                username=username, address=signin_limit.client_address(request)
            )
        except signin_limit.SigninRefused as refused:
            if request is not None:
                request.signin_refusal = refused.message
            raise
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None:
            signin_limit.signin_succeeded(username=username)
        return user

    async def aauthenticate(self, request, username=None, password=None, **kwargs):
        # ModelBackend's own async check would skip the limit.
        return await sync_to_async(self.authenticate)(
            request, username=username, password=password, **kwargs
        )


def signin_refusal(request) -> str:
    """Why this request's sign-in was refused without checking the password, or ""."""
    return getattr(request, "signin_refusal", "")
