"""Domain errors on the browser side, mapped in one place (the API's twin is
`config.api.exception_handler`). A view states only what is particular to it:

- `NotFound` is the site's 404 page and a `PermissionDenied` that nothing showed is the 403
  page, wherever in a view they are raised: `BrowserErrorsMiddleware`. Views let them rise.
- Any other `ApplicationError` is shown where the view says, by `show_errors`: on the form the
  view re-renders (`form=`), as a flash message (`request`), or kept for the view to place
  (`shown.message`). Code after the failing call in the `with` block does not run, so the
  success path (its message, its redirect) goes inside the block and the path for a refusal
  after it.
- A public page that answers a link which is invalid or has expired with a page of its own:
  `@not_found_page(template)`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import TracebackType

from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from config.errors import ApplicationError, InvalidTransition, NotFound, PermissionDenied


class BrowserErrorsMiddleware:
    """A `NotFound` raised by a browser view answers as Django's `Http404` does (the 404 page,
    or JSON under /api/ through `config.views.not_found`); a `PermissionDenied` of ours that
    no view showed answers as Django's own (the 403 page). API views never get here: DRF's
    exception handler has answered them already."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        # Raising here hands the error to Django's own handlers (handler404, handler403), so
        # the pages and their status are exactly those of an Http404 raised by the view.
        if isinstance(exception, NotFound):
            raise Http404(exception.message) from exception
        if isinstance(exception, PermissionDenied):
            raise DjangoPermissionDenied(exception.message) from exception
        return None


class show_errors:  # noqa: N801 - a context manager reads as a verb: `with show_errors(...)`
    """Show an `ApplicationError` raised in the block and carry on after it.

    - `form`: the error goes on the form, on its field when the form has that field, else
      above the form.
    - `fields_only=True`: only an error naming one of the form's fields goes on the form;
      the others become a flash message.
    - `transitions_to_messages=True`: an `InvalidTransition` (the object's state, not the
      input) becomes a flash message even with a form.
    - `request` without a form: a flash message, `message` formatting it (`%(why)s` is the
      error's text).
    - neither: the error is only kept, for the view to place (`shown.message`).

    `NotFound` is not caught (the middleware makes it a 404) unless `not_found_too=True`,
    for a view where "not found" is an answer to show rather than a missing page.
    After the block `shown.error` is the error (or None), `shown.message` and `shown.field`
    its text and field, and `shown.on_form` says whether it went on the form.
    """

    def __init__(
        self,
        request: HttpRequest | None = None,
        *,
        form=None,
        fields_only: bool = False,
        transitions_to_messages: bool = False,
        message: str | None = None,
        not_found_too: bool = False,
    ):
        if request is None and (fields_only or transitions_to_messages or message):
            raise TypeError("Flash messages need the request.")
        self.request = request
        self.form = form
        self.fields_only = fields_only
        self.transitions_to_messages = transitions_to_messages
        self.message_format = message
        self.not_found_too = not_found_too
        self.error: ApplicationError | None = None
        self.on_form = False

    @property
    def message(self) -> str:
        """The error's text, or "" when the block raised none."""
        return self.error.message if self.error is not None else ""

    @property
    def field(self) -> str | None:
        """The field the error names, if any."""
        return self.error.field if self.error is not None else None

    def __enter__(self) -> show_errors:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        if not isinstance(exc, ApplicationError):
            return False
        if isinstance(exc, NotFound) and not self.not_found_too:
            return False
        self.error = exc
        if self._goes_on_form(exc):
            field = exc.field if exc.field in self.form.fields else None
            self.form.add_error(field, exc.message)
            self.on_form = True
        elif self.request is not None:
            text = exc.message
            if self.message_format:
                text = self.message_format % {"why": exc.message}
            messages.error(self.request, text)
        return True

    def _goes_on_form(self, exc: ApplicationError) -> bool:
        if self.form is None:
            return False
        if self.transitions_to_messages and isinstance(exc, InvalidTransition):
            return False
        if self.fields_only:
            return bool(exc.field) and exc.field in self.form.fields
        return True


def not_found_page(template_name: str) -> Callable:
    """Decorate a public view whose links can be invalid or expired: a `NotFound` it raises
    renders `template_name` with the error's `message`, status 404 (the reader followed a link
    from an e-mail; the site's own 404 page would not say what went wrong)."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            try:
                return view(request, *args, **kwargs)
            except NotFound as exc:
                return render(request, template_name, {"message": exc.message}, status=404)

        return wrapper

    return decorate
