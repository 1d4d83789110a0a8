from django.urls import path

from shares import public_views, views

urlpatterns = [
    path("shares/", views.share_links, name="share_links"),
    path("shares/new/", views.share_new, name="share_new"),
    path("shares/<id:pk>/revoke/", views.share_revoke, name="share_revoke"),
    # Public: no sign-in (login_not_required), read-only.
    path("s/<str:token>/", public_views.shared_page, name="shared_page"),
    path(
        "s/<str:token>/images/<id:pk>/thumbnail.webp",
        public_views.shared_thumbnail,
        name="shared_thumbnail",
    ),
    path(
        "s/<str:token>/images/<id:pk>/original",
        public_views.shared_original,
        name="shared_original",
    ),
]
