from django.urls import path

from gallery import image_views, views

urlpatterns = [
    path("", views.studio, name="studio"),
    path("controls/", views.controls, name="controls"),
    path("suggestions/", views.suggestions, name="suggestions"),
    path("estimate/", views.estimate, name="estimate"),
    path("generate/", views.run_create, name="run_create"),
    path("uploads/", views.upload_create, name="upload_create"),
    path("uploads/<id:pk>/", views.upload_detail, name="upload_detail"),
    path("uploads/<id:pk>/thumbnail.webp", image_views.upload_thumbnail, name="upload_thumbnail"),
    path("prompts/<id:pk>/forget/", views.prompt_forget, name="prompt_forget"),
    path("events/", views.events, name="events"),
    path("runs/<id:pk>/", views.run_detail, name="run_detail"),
    path("runs/<id:pk>/progress/", views.run_progress, name="run_progress"),
    path("runs/<id:pk>/delete/", views.run_delete, name="run_delete"),
    path("runs/<id:pk>/restore/", views.run_restore, name="run_restore"),
    path("runs/<id:pk>/cancel/", views.run_cancel, name="run_cancel"),
    path("runs/<id:pk>/share/", views.run_share, name="run_share"),
    path("runs/<id:pk>/download/", image_views.run_download, name="run_download"),
    path("images/<id:pk>/", image_views.image_detail, name="image_detail"),
    path("images/<id:pk>/retry/", views.image_retry, name="image_retry"),
    path("images/<id:pk>/cancel/", views.image_cancel, name="image_cancel"),
    path("images/<id:pk>/star/", image_views.image_star, name="image_star"),
    path("images/<id:pk>/delete/", image_views.image_delete, name="image_delete"),
    path("images/<id:pk>/restore/", image_views.image_restore, name="image_restore"),
    path("images/<id:pk>/thumbnail.webp", image_views.image_thumbnail, name="image_thumbnail"),
    path("images/<id:pk>/original", image_views.image_original, name="image_original"),
    path("images/<id:pk>/download/", image_views.image_download, name="image_download"),
]
