import operator

from django.conf import settings
from django.utils.functional import SimpleLazyObject, new_method_proxy

from accounts.selectors import unread_notification_count


class LazyCount(SimpleLazyObject):
    """A number worked out on first use. Also takes part in arithmetic, because a plural in a
    template ({% blocktranslate count %}) hands it to gettext's plural formula, and Russian's
    takes n % 10 of it: a plain SimpleLazyObject made such a page fail."""

    __mod__ = new_method_proxy(operator.mod)
    __int__ = new_method_proxy(int)
    __index__ = new_method_proxy(operator.index)


def _unread_notifications(request) -> int:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.account_id:
        return 0
    return unread_notification_count(account_id=user.account_id)


def _terms_due(request) -> list:
    from accounts.terms import documents_due

    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    return documents_due(user=user)


def _can_use_admin(request) -> bool:
    """Whether the Django admin has anything for the user: a superuser, or staff with at least
    one model permission (the admin shows nothing to staff without one)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_active or not user.is_staff:
        return False
    return user.is_superuser or bool(user.get_all_permissions())


def _member_role(request) -> str:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.account_id:
        return ""
    return user.role


def site(request):
    """What every page's layout needs: the service's name, debug, the nav's unread badge
    (counted only when a page shows it), the Admin link's condition, the member's role, and
    whether a new terms or privacy version waits for
    the user's acceptance (the banner)."""
    return {
        "service_name": settings.SERVICE_NAME,
        "debug": settings.DEBUG,
        "unread_notifications": LazyCount(lambda: _unread_notifications(request)),
        "terms_due": SimpleLazyObject(lambda: _terms_due(request)),
        # The nav's Admin link, only for those the admin has something for.
        "can_use_admin": SimpleLazyObject(lambda: _can_use_admin(request)),
        # The member's role in their account (accounts.roles), to show only the actions the
        # role allows: "owner", "editor", "viewer", or "" without an account.
        "member_role": _member_role(request),
    }
