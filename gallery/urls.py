from django.urls import path

from gallery import account_views, image_views, views

urlpatterns = [
    path("", views.studio, name="studio"),
    path("setup/", account_views.setup, name="setup"),
    path("controls/", views.controls, name="controls"),
    path("suggestions/", views.suggestions, name="suggestions"),
    path("estimate/", views.estimate, name="estimate"),
    path("generate/", views.generation_create, name="generation_create"),
    path("uploads/", views.upload_create, name="upload_create"),
    path("uploads/<int:pk>/", views.upload_detail, name="upload_detail"),
    path("uploads/<int:pk>/thumbnail.webp", image_views.upload_thumbnail, name="upload_thumbnail"),
    path("prompts/<int:pk>/forget/", views.prompt_forget, name="prompt_forget"),
    path("runs/<int:pk>/", views.generation_detail, name="generation_detail"),
    path("runs/<int:pk>/progress/", views.generation_progress, name="generation_progress"),
    path("runs/<int:pk>/delete/", views.generation_delete, name="generation_delete"),
    path("runs/<int:pk>/restore/", views.generation_restore, name="generation_restore"),
    path("runs/<int:pk>/share/", views.generation_share, name="generation_share"),
    path(
        "runs/<int:pk>/download/",
        image_views.generation_download_all,
        name="generation_download",
    ),
    path("images/<int:pk>/", image_views.image_detail, name="image_detail"),
    path("images/<int:pk>/retry/", views.image_retry, name="image_retry"),
    path("images/<int:pk>/star/", image_views.image_star, name="image_star"),
    path("images/<int:pk>/delete/", image_views.image_delete, name="image_delete"),
    path("images/<int:pk>/restore/", image_views.image_restore, name="image_restore"),
    path("images/<int:pk>/thumbnail.webp", image_views.image_thumbnail, name="image_thumbnail"),
    path("images/<int:pk>/original", image_views.image_original, name="image_original"),
    path("images/<int:pk>/download/", image_views.image_download, name="image_download"),
]
