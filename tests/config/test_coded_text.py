"""Stored text as codes: rendered in the reader's language at read time."""

import pytest
from django.utils import translation

from config import coded_text
from config.coded_text import coded, define, render

define("tests.coded.row", "Duplicate of row %(row)s.")
define("tests.coded.rate", "Bounce rate %(rate)s over %(limit)s.")
define("tests.coded.bounces", "%(count)s bounce", "%(count)s bounces")
define("tests.coded.wrapped", "Because: %(why)s")


def test_a_coded_text_is_json_data_and_renders_with_its_parameters():
    stored = coded("tests.coded.row", row=2)
    assert stored == {"code": "tests.coded.row", "params": {"row": 2}}
    assert render(stored) == "Duplicate of row 2."


def test_an_undefined_code_fails_where_it_is_written():
    with pytest.raises(KeyError):
        coded("tests.coded.no_such_code")


def test_parameters_must_be_json_safe():
    with pytest.raises(TypeError):
        coded("tests.coded.row", row=object())


def test_a_plain_string_and_none_read_as_they_are():
    assert render("Typed by a moderator.") == "Typed by a moderator."
    assert render(None) == ""


def test_floats_take_the_readers_decimal_separator():
    stored = coded("tests.coded.rate", rate=2.5, limit=0.3)
    with translation.override("en"):
        assert render(stored) == "Bounce rate 2.5 over 0.3."
    with translation.override("ru"):
        assert render(stored) == "Bounce rate 2,5 over 0,3."


def test_plural_forms_follow_count():
    with translation.override("en"):
        assert render(coded("tests.coded.bounces", count=1)) == "1 bounce"
        assert render(coded("tests.coded.bounces", count=3)) == "3 bounces"


def test_a_coded_parameter_is_rendered_inside():
    inner = coded("tests.coded.row", row=7)
    assert render(coded("tests.coded.wrapped", why=inner)) == "Because: Duplicate of row 7."


def test_an_unknown_stored_code_shows_the_code_and_does_not_raise():
    assert render({"code": "gone.code", "params": {}}) == "gone.code"


def test_a_missing_parameter_shows_as_an_ellipsis_not_as_template_syntax():
    assert render({"code": "tests.coded.row", "params": {}}) == "Duplicate of row …."


def test_one_code_cannot_get_two_meanings():
    with pytest.raises(ValueError):
        define("tests.coded.row", "Something else.")
    assert "tests.coded.row" in coded_text.defined_codes()


def test_the_template_filter_renders(settings):
    from django.template import engines

    django_engine = engines["django"]
    page = django_engine.from_string("{% load coded_text %}{{ value|coded }}")
    assert page.render({"value": coded("tests.coded.row", row=3)}) == "Duplicate of row 3."


def test_a_second_thread_waits_for_the_first_reading_of_the_apps_texts(monkeypatch):
    """Two tasks of a threaded worker reading their first codes at once: the one that comes
    second must find every app's texts, not the part imported so far (a probe's start failed on
    a KeyError in bin/run's thread-pool worker beside a notification e-mail's task)."""
    import threading
    import time

    started = threading.Event()

    def slow_autodiscover(name):
        started.set()
        time.sleep(0.3)  # the imports take a while; the other thread asks meanwhile
        define("tests.coded.discovered_late", "Found in an app's texts.")

    monkeypatch.setattr(coded_text, "_TEXTS", dict(coded_text._TEXTS))
    monkeypatch.setattr(coded_text, "_discovered", False)
    monkeypatch.setattr(coded_text, "autodiscover_modules", slow_autodiscover)
    results: dict[str, object] = {}

    def read(who: str) -> None:
        try:
            results[who] = coded("tests.coded.discovered_late")
        except KeyError as exc:
            results[who] = exc

    first = threading.Thread(target=read, args=("first",))
    first.start()
    assert started.wait(5)
    second = threading.Thread(target=read, args=("second",))
    second.start()
    first.join(5)
    second.join(5)
    expected = {"code": "tests.coded.discovered_late", "params": {}}
    assert results == {"first": expected, "second": expected}
