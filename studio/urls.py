from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from team.views import SignInView

urlpatterns = [
    path("", include("gallery.urls")),
    path("", include("team.urls")),
    path("accounts/login/", SignInView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
]

handler403 = "gallery.account_views.permission_denied"
handler404 = "gallery.account_views.page_not_found"
