"""Who may moderate: staff users, through the API (token or session) and the browser alike."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404
from rest_framework import permissions

from accounts.permissions import TokenScope


class IsModerator(permissions.BasePermission):
    """The user is staff (a moderator); anyone else gets a 403."""

    message = "Only moderators can do this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff)


MODERATOR_PERMISSIONS = [permissions.IsAuthenticated, IsModerator, TokenScope]


def staff_required(view):
    """Browser pages for moderators: log in first; to anyone but staff the page does not exist."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_staff:
            raise Http404("No such page.")
        return view(request, *args, **kwargs)

    return wrapper
