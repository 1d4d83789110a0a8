from django.urls import path

from gallery import views

urlpatterns = [
    path("", views.studio, name="studio"),
    path("setup/", views.setup, name="setup"),
    path("controls/", views.controls, name="controls"),
    path("generate/", views.generation_create, name="generation_create"),
    path("runs/<int:pk>/", views.generation_detail, name="generation_detail"),
    path("runs/<int:pk>/progress/", views.generation_progress, name="generation_progress"),
    path("images/<int:pk>/retry/", views.image_retry, name="image_retry"),
    path("images/<int:pk>/thumbnail.webp", views.image_thumbnail, name="image_thumbnail"),
    path("images/<int:pk>/original", views.image_original, name="image_original"),
    path("images/<int:pk>/download/", views.image_download, name="image_download"),
]
