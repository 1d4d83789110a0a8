from django.urls import path

from boards import views

urlpatterns = [
    path("boards/", views.boards_page, name="boards_page"),
    path("boards/new/", views.board_create, name="board_create"),
    path("boards/order/", views.boards_reorder, name="boards_reorder"),
    path("boards/<id:pk>/", views.board_detail, name="board_detail"),
    path("boards/<id:pk>/rename/", views.board_rename, name="board_rename"),
    path("boards/<id:pk>/delete/", views.board_delete, name="board_delete"),
    path("boards/<id:pk>/move/", views.board_move, name="board_move"),
    path("boards/<id:pk>/images/", views.board_images_add, name="board_images_add"),
    path("boards/<id:pk>/images/remove/", views.board_images_remove, name="board_images_remove"),
    path("boards/<id:pk>/download/", views.board_download, name="board_download"),
    path("images/<id:pk>/boards/", views.image_boards, name="image_boards"),
    path("images/<id:pk>/boards/save/", views.image_boards_save, name="image_boards_save"),
]
