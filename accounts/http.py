"""The requests that views behind a sign-in receive, as the type checker should see them.

Django types `request.user` as `User | AnonymousUser`, and our `User.account` is optional (staff
have none). The decorators guarantee more: `login_required` (and `moderation.permissions.
staff_required`) a signed-in `User`, `accounts.views.account_required` a member of a sender
account. A view states which it relies on in its signature, with one of these two types, so its
body reads `request.user.account` without a check the decorator already made."""

from typing import TYPE_CHECKING

from django.http import HttpRequest

from accounts.models import Account, User

if TYPE_CHECKING:

    class SenderUser(User):
        """A signed-in member of a sender account: for the type checker only, never a model."""

        account: Account
        account_id: int

        class Meta:
            abstract = True


class AuthenticatedRequest(HttpRequest):
    """A request behind `login_required` or `staff_required`: the user is signed in."""

    user: User


class SenderRequest(HttpRequest):
    """A request behind `account_required`: the user is signed in and belongs to an account."""

    user: "SenderUser"
