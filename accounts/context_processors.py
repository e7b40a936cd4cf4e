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


def site(request):
    """What every page's layout needs: the service's name, debug, the nav's unread badge
    (counted only when a page shows it), and whether a new terms or privacy version waits for
    the user's acceptance (the banner)."""
    return {
        "service_name": settings.SERVICE_NAME,
        "debug": settings.DEBUG,
        "unread_notifications": LazyCount(lambda: _unread_notifications(request)),
        "terms_due": SimpleLazyObject(lambda: _terms_due(request)),
    }
