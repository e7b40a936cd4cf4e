"""config.browser_errors: one place maps domain errors on the browser side. Each pattern a view
uses is pinned here: a NotFound anywhere is the 404 page, an uncaught PermissionDenied the 403
page, an invalid link its own page, and show_errors puts the rest on the form, in a flash
message or in the view's hands."""

import pytest
from django import forms
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.http import Http404
from django.test import RequestFactory

from config.browser_errors import BrowserErrorsMiddleware, show_errors
from config.errors import ApplicationError, InvalidTransition, NotFound, PermissionDenied

URLS = pytest.mark.urls("tests.config.browser_errors_urls")


class WidgetForm(forms.Form):
    name = forms.CharField()
    email = forms.EmailField(required=False)


def _form() -> WidgetForm:
    form = WidgetForm({"name": "Ann", "email": ""})
    assert form.is_valid()
    return form


def _request():
    request = RequestFactory().post("/anywhere/")
    request.session = {}
    request._messages = FallbackStorage(request)
    return request


def _flashed(request) -> list[tuple[str, str]]:
    return [(m.level_tag, m.message) for m in get_messages(request)]


# --- the middleware: NotFound and PermissionDenied rise from any browser view ---------------------


def test_middleware_turns_not_found_into_http404_with_its_message():
    middleware = BrowserErrorsMiddleware(lambda request: None)
    with pytest.raises(Http404, match="No such widget."):
        middleware.process_exception(_request(), NotFound("No such widget."))


def test_middleware_leaves_other_errors_alone():
    middleware = BrowserErrorsMiddleware(lambda request: None)
    assert middleware.process_exception(_request(), ApplicationError("no")) is None
    assert middleware.process_exception(_request(), ValueError("no")) is None


@URLS
@pytest.mark.django_db
def test_a_view_raising_not_found_answers_the_sites_404_page(client):
    response = client.get("/test-errors/not-found/")
    assert response.status_code == 404
    assert "There is no such page, or it is not yours to see." in response.content.decode()


@URLS
@pytest.mark.django_db
def test_a_permission_denied_nothing_showed_answers_the_403_page_with_its_reason(client):
    response = client.get("/test-errors/denied/")
    assert response.status_code == 403
    assert "Only the owner can do this." in response.content.decode()


@URLS
@pytest.mark.django_db
def test_any_other_domain_error_is_not_swallowed_by_the_middleware(client):
    with pytest.raises(ApplicationError, match="Nothing showed this."):
        client.get("/test-errors/refused/")


# --- @not_found_page: a link from an e-mail that is invalid gets a page that says so --------------


@URLS
@pytest.mark.django_db
def test_not_found_page_renders_its_template_with_the_message_and_404(client):
    response = client.get("/test-errors/link/bad/")
    assert response.status_code == 404
    assert [t.name for t in response.templates][0] == "lists/public/invalid.html"
    assert response.context["message"] == "This link is invalid or has expired."
    assert "This link is invalid or has expired." in response.content.decode()


@URLS
@pytest.mark.django_db
def test_not_found_page_lets_a_good_link_through(client):
    response = client.get("/test-errors/link/good/")
    assert response.status_code == 200
    assert response.content == b"welcome"


# --- show_errors(form=...): the error on the form the view re-renders --------------------------


def test_an_error_naming_a_field_goes_on_that_field():
    form = _form()
    with show_errors(form=form) as shown:
        raise ApplicationError("Taken.", field="name")
    assert form.errors == {"name": ["Taken."]}
    assert shown.on_form is True
    assert shown.message == "Taken."


def test_an_error_naming_no_field_of_the_form_goes_above_it():
    form = _form()
    with show_errors(form=form):
        raise ApplicationError("Frozen.", field="not_a_field")
    assert form.errors == {"__all__": ["Frozen."]}


def test_the_rest_of_the_block_does_not_run_after_the_error():
    form = _form()
    ran = []
    with show_errors(form=form):
        raise ApplicationError("No.")
        ran.append("success path")  # unreachable on purpose: that is the contract
    assert ran == []


def test_without_an_error_the_block_runs_to_the_end_and_nothing_is_shown():
    form = _form()
    with show_errors(form=form) as shown:
        done = True
    assert done
    assert shown.error is None and shown.message == "" and shown.on_form is False
    assert form.errors == {}


def test_not_found_is_not_put_on_the_form_it_is_a_404():
    form = _form()
    with pytest.raises(NotFound), show_errors(form=form):
        raise NotFound("No such widget.")
    assert form.errors == {}


def test_not_found_too_shows_a_not_found_like_any_other_error():
    request = _request()
    with show_errors(request, not_found_too=True) as shown:
        raise NotFound("This list has no welcome message yet.")
    assert shown.error is not None
    assert _flashed(request) == [("error", "This list has no welcome message yet.")]


def test_errors_that_are_not_domain_errors_pass_through():
    form = _form()
    with pytest.raises(ValueError), show_errors(form=form):
        raise ValueError("a bug")
    assert form.errors == {}


# --- show_errors(request): a flash message, the view redirects ----------------------------------


def test_with_the_request_only_the_error_is_a_flash_message():
    request = _request()
    with show_errors(request) as shown:
        raise PermissionDenied("Your account is frozen.")
    assert _flashed(request) == [("error", "Your account is frozen.")]
    assert shown.on_form is False


def test_a_message_format_wraps_the_errors_text():
    request = _request()
    with show_errors(request, message="The test was not sent. %(why)s"):
        raise ApplicationError("Verify your address first.")
    assert _flashed(request) == [("error", "The test was not sent. Verify your address first.")]


# --- fields_only / transitions_to_messages: form and flash message together ---------------------


def test_fields_only_puts_a_field_error_on_the_form():
    request, form = _request(), _form()
    with show_errors(request, form=form, fields_only=True) as shown:
        raise ApplicationError("Say why.", field="name")
    assert form.errors == {"name": ["Say why."]}
    assert shown.on_form is True
    assert _flashed(request) == []


def test_fields_only_makes_any_other_error_a_flash_message():
    request, form = _request(), _form()
    with show_errors(request, form=form, fields_only=True) as shown:
        raise InvalidTransition("Already approved.")
    assert form.errors == {}
    assert shown.on_form is False
    assert _flashed(request) == [("error", "Already approved.")]


def test_transitions_to_messages_says_a_state_error_as_a_message_not_on_the_form():
    request, form = _request(), _form()
    with show_errors(request, form=form, transitions_to_messages=True) as shown:
        raise InvalidTransition("A submitted campaign cannot be edited.")
    assert form.errors == {}
    assert shown.on_form is False
    assert _flashed(request) == [("error", "A submitted campaign cannot be edited.")]


def test_transitions_to_messages_still_puts_input_errors_on_the_form():
    request, form = _request(), _form()
    with show_errors(request, form=form, transitions_to_messages=True) as shown:
        raise ApplicationError("Not a real address.")
    assert form.errors == {"__all__": ["Not a real address."]}
    assert shown.on_form is True
    assert _flashed(request) == []


# --- show_errors(): kept for a view that places the message itself -----------------------------


def test_with_neither_form_nor_request_the_error_is_only_kept():
    with show_errors() as shown:
        raise ApplicationError("Unknown merge tag {{ nme }}.", field="html_body")
    assert shown.message == "Unknown merge tag {{ nme }}."
    assert shown.field == "html_body"


def test_flash_options_without_a_request_are_a_programming_error():
    with pytest.raises(TypeError):
        show_errors(fields_only=True)
    with pytest.raises(TypeError):
        show_errors(message="%(why)s")
