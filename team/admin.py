from django.contrib import admin

from team.models import Invite, LoginAttempt, TeamPolicy


@admin.register(TeamPolicy)
class TeamPolicyAdmin(admin.ModelAdmin):
    list_display = ("__str__", "daily_image_limit", "monthly_budget_usd", "signup_domain")
    readonly_fields = ("updated_at", "updated_by")

    def has_add_permission(self, request) -> bool:
        return not TeamPolicy.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Invite)
class InviteAdmin(admin.ModelAdmin):
    # Invites are made on the Team page, which shows the link once; here they can be inspected.
    list_display = ("email", "created_by", "created_at", "expires_at", "used_at", "revoked_at")
    readonly_fields = ("token_hash", "created_by", "created_at", "used_at", "used_by")

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(LoginAttempt)
class LoginAttemptAdmin(admin.ModelAdmin):
    list_display = ("username", "ip", "attempted_at")
    search_fields = ("username", "ip")
