from django.urls import path

from api import endpoints, views

urlpatterns = [
    path("api/", views.api_page, name="api_page"),
    path("api/tokens/", views.token_create, name="token_create"),
    path("api/tokens/<id:pk>/revoke/", views.token_revoke, name="token_revoke"),
    path("v1/images/generations", endpoints.images_generations, name="images_generations"),
    path("v1/images/edits", endpoints.images_edits, name="images_edits"),
    path("v1/models", endpoints.models, name="models"),
    path("v1/files/<str:signed>", endpoints.image_file, name="api_image_file"),
]
