"""API permissions shared by every app."""

from rest_framework import permissions

from accounts.models import ApiToken


class TokenScope(permissions.BasePermission):
    """A read-only API token may only read."""

    message = "This API token is read-only."

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, ApiToken) and request.auth.read_only:
            return request.method in permissions.SAFE_METHODS
        return True


class HasAccount(permissions.BasePermission):
    """The user belongs to a sender account (staff-only users have none)."""

    message = "This endpoint is for users of a sender account."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.account_id)
