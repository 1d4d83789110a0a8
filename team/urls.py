from django.urls import path

from team import account_views, views

urlpatterns = [
    path("setup/", account_views.setup, name="setup"),
    path("team/", views.team, name="team"),
    path("team/invites/", views.invite_create, name="invite_create"),
    path("team/invites/<id:pk>/revoke/", views.invite_revoke, name="invite_revoke"),
    path("team/members/<id:pk>/active/", views.member_set_active, name="member_set_active"),
    path("team/policy/", views.policy_update, name="policy_update"),
    path("usage/", views.usage, name="usage"),
    path("usage.csv", views.usage_csv, name="usage_csv"),
    path("invite/<str:token>/", account_views.invite_accept, name="invite_accept"),
    path("signup/", account_views.signup, name="signup"),
]
