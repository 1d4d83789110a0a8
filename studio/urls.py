from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, register_converter

from studio.health import healthz
from studio.params import IdConverter
from team.account_views import SignInView, admin_sign_in

# Before the apps' patterns are read: they use <id:pk>.
register_converter(IdConverter, "id")

urlpatterns = [
    # No sign-in, no secrets: for load balancers and process managers (studio/health.py).
    path("healthz", healthz, name="healthz"),
    path("", include("gallery.urls")),
    path("", include("team.urls")),
    path("", include("api.urls")),
    path("", include("boards.urls")),
    path("", include("shares.urls")),
    path("accounts/login/", SignInView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Before the admin's own URLs: its sign-in page sends people to the studio's.
    path("admin/login/", admin_sign_in),
    path("admin/", admin.site.urls),
]

handler403 = "team.account_views.permission_denied"
handler404 = "team.account_views.page_not_found"
