from django.conf import settings
from django.utils.functional import SimpleLazyObject

from accounts.selectors import unread_notification_count


def _unread_notifications(request) -> int:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.account_id:
        return 0
    return unread_notification_count(account_id=user.account_id)


def site(request):
    """What every page's layout needs: the service's name, debug, and the nav's unread badge
    (counted only when a page shows it)."""
    return {
        "service_name": settings.SERVICE_NAME,
        "debug": settings.DEBUG,
        "unread_notifications": SimpleLazyObject(lambda: _unread_notifications(request)),
    }
