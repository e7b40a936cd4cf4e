"""The merge-tag sandbox under attack: a campaign body reaching for settings, the request, Python's
object graph, the ORM or other subscribers, or trying to loop, recurse or allocate without end, is
refused with a clear error at save and preview, or renders harmlessly; none leaks a secret or
another subscriber's data, and none hangs.
"""

import re

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from campaigns.merge import (
    MAX_EXPRESSION_LENGTH,
    MergeProgram,
    MergeTagError,
    compile_merge_tag,
    merge_context,
)
from campaigns.models import Campaign
from tests.factories import SenderDomainFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory
from tests.security.conftest import FUZZ

# What a leak looks like in a rendered value: Python's idea of an object, or a secret.
OBJECT_REPR = re.compile(r"built-in method|bound method|<function|<class|object at 0x|<module")

ATTACKS = [
    # Globals and the framework.
    "settings",
    "settings.SECRET_KEY",
    "config.SECRET_KEY",
    "request.META",
    "request.user.password",
    "self._TemplateReference__context",
    "environment",
    "lipsum.__globals__",
    "cycler.__init__.__globals__.os",
    "joiner.__init__.__globals__",
    "namespace.__init__.__globals__",
    "range(10**9)",
    "range(999999999) | list",
    "dict(a=1)",
    # Python's object graph from the data.
    "subscriber.__class__",
    "subscriber.__class__.__mro__[1].__subclasses__()",
    "subscriber.name.__class__.__base__.__subclasses__()",
    "subscriber['__class__']['__init__']",
    "subscriber.attributes.__init__.__globals__",
    "list.name.format.__globals__",
    "subscriber.name.format(subscriber)",
    "subscriber.name | attr('__class__')",
    "subscriber | attr('items')",
    "(subscriber.name).__class__",
    # The ORM and other subscribers.
    "subscriber.objects.all()",
    "subscriber.mailing_list.subscribers.all()",
    "list.subscribers.all()",
    "company.account.users.first().password",
    # Loops, recursion, allocation.
    "subscriber.name * 1000000000",
    "'x' * 10**9",
    "subscriber.name | truncate(10**9)",
    "subscriber.name | center(10**9)",
    "subscriber.name | wordwrap(1)",
    "subscriber.name | indent(10**9)",
    "subscriber.name | replace('', 'x' * 100)",
    "subscriber.name | batch(10**9)",
    "subscriber.name | join(',')",
    "subscriber.name | format('%s' * 1000)",
    "subscriber.name | tojson",
    "subscriber.name | urlize",
    "subscriber.name | safe",
    "subscriber.name | pprint",
    "[subscriber] * 10**9",
    "{'a': subscriber}",
    "subscriber.name if subscriber.name else subscriber.email",
    "(subscriber.name ~ subscriber.email) * 9",
    "subscriber[subscriber.name]",
    "subscriber.name | default(subscriber.email)",
    "subscriber.name | default(company.name | upper)",
    "subscriber.name | truncate(-999999)",
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_each_attack_is_refused_when_the_tag_is_compiled(attack):
    with pytest.raises(MergeTagError) as refused:
        compile_merge_tag(attack, field="html_body")
    assert refused.value.field == "html_body"
    assert "is not allowed" in refused.value.message or "cannot be read" in refused.value.message


def _context():
    return merge_context(
        email="ann@example.org",
        name="Ann Lee",
        phone="+44 1",
        attributes={"city": "Leeds", "items": "Box", "tier": {"name": "gold"}, "tags": ["a", "b"]},
        list_name="News",
        company_name="Acme",
    )


def _evaluate(tag: str) -> str:
    return MergeProgram([compile_merge_tag(tag, field="html_body")]).evaluate(_context())[0]


@pytest.mark.parametrize(
    "tag",
    [
        "subscriber.items",
        "subscriber.keys",
        "subscriber.attributes.values",
        "subscriber.attributes.get",
        "list.name.upper",
        "list.name.format",
        "company.name.encode",
        "subscriber.email.split",
        "subscriber.attributes.tags.append",
        "subscriber.attributes.tier.pop",
        "subscriber.attributes.city.mro",
        "subscriber.name.title",
        # Plain lookups shaped like the ORM: the context is plain data of one recipient.
        "subscriber.mailing_list.account.api_tokens",
        "list.subscribers[1].email",
        "company.account.users",
        "subscriber.id",
        "subscriber.pk",
    ],
)
def test_lookups_past_the_data_are_missing_values_not_python_object_descriptions(tag):
    """These compile (they are plain lookups), but nothing behind them is data: each is empty,
    where a method's used to render as "<built-in method items of dict object at 0x7f...>"."""
    assert _evaluate(tag) == ""
    assert _evaluate(f"{tag} | default('none')") == "none"


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("subscriber.attributes.items", "Box"),  # an attribute named like a method is found
        ("subscriber.attributes['items']", "Box"),
        ("subscriber.attributes.tier.name", "gold"),
        ("subscriber.attributes.tags[1]", "b"),
        ("subscriber.attributes.tags[5]", ""),
        ("subscriber.name[0]", "A"),
        ("subscriber.name[99]", ""),
        ("subscriber.attributes.city | upper", "LEEDS"),
        ("subscriber.attributes.nope.deeper.still | default('x')", "x"),
    ],
)
def test_lookups_reach_the_recipients_data(tag, expected):
    assert _evaluate(tag) == expected


# Expressions assembled from the pieces attacks are made of; most do not compile, and whatever
# compiles must evaluate to plain, bounded text.
NAMES = ["subscriber", "list", "company", "settings", "request", "self", "cycler", "joiner",
         "namespace", "lipsum", "range", "dict", "config", "loop", "environment", "''",
         "1"]  # fmt: skip
ATTRIBUTES = ["name", "email", "first_name", "attributes", "city", "tier", "tags", "items",
              "keys", "values", "get", "upper", "format", "format_map", "mro", "__class__",
              "__mro__", "__subclasses__", "__globals__", "__init__", "__dict__", "_meta",
              "objects", "account", "mailing_list", "subscribers", "SECRET_KEY", "password",
              "gi_frame", "f_globals", "func_globals", "im_func"]  # fmt: skip
FILTERS = ["default", "d", "upper", "lower", "title", "capitalize", "trim", "truncate", "attr",
           "map", "join", "list", "string", "format", "pprint", "wordwrap", "center", "indent",
           "replace", "batch", "slice", "sum", "urlize", "tojson", "xmlattr", "safe", "items",
           "first", "random", "reverse", "sort", "dictsort", "int", "float"]  # fmt: skip
ARGUMENTS = st.one_of(
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
    st.text(alphabet="ax%s{}'\"_", max_size=12).map(repr),
    st.sampled_from(["subscriber", "subscriber.email", "true", "none", "10**9", "'x' * 99"]),
)


@st.composite
def expressions(draw) -> str:
    text = draw(st.sampled_from(NAMES))
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        step = draw(st.sampled_from(["attr", "item", "call", "filter", "operator"]))
        if step == "attr":
            text += "." + draw(st.sampled_from(ATTRIBUTES))
        elif step == "item":
            key = draw(
                st.one_of(st.sampled_from(ATTRIBUTES).map(repr), st.integers(-3, 3).map(str))
            )
            text += f"[{key}]"
        elif step == "call":
            text += "(" + ", ".join(draw(st.lists(ARGUMENTS, max_size=2))) + ")"
        elif step == "filter":
            arguments = draw(st.lists(ARGUMENTS, max_size=3))
            name = draw(st.sampled_from(FILTERS))
            text += f" | {name}" + (f"({', '.join(arguments)})" if arguments else "")
        else:
            operator = draw(st.sampled_from(["*", "~", "+", "**", "if", "and", "%"]))
            text = f"({text}) {operator} {draw(ARGUMENTS)}"
            if operator == "if":
                text += " else 1"
    return text


@FUZZ
@given(expression=expressions())
def test_whatever_compiles_evaluates_to_bounded_plain_text(expression, settings):
    try:
        tag = compile_merge_tag(expression, field="html_body")
    except MergeTagError as refused:
        assert refused.field == "html_body"
        return
    context = _context()
    (value,) = MergeProgram([tag]).evaluate(context)
    assert isinstance(value, str)
    assert not OBJECT_REPR.search(value), value
    assert settings.SECRET_KEY not in value
    # Nothing multiplies: a value is at most a context value, a filter's bounded argument, or a
    # dump of the recipient's own small context.
    assert len(value) <= len(repr(context)) + 10_000 + MAX_EXPRESSION_LENGTH


# --- through the editor: save and preview ------------------------------------------------------


@pytest.fixture
def sender(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def mailing_list(user):
    return MailingListFactory(account=user.account, name="Monthly news")


@pytest.fixture
def ann(mailing_list):
    return SubscriberFactory(
        mailing_list=mailing_list, email="ann@example.org", name="Ann", attributes={"city": "Leeds"}
    )


@pytest.fixture
def bob(mailing_list):
    """Another subscriber of the same list: nothing rendered for Ann may show him."""
    return SubscriberFactory(mailing_list=mailing_list, email="bob.secret@example.org", name="Bob")


@pytest.fixture
def fields(user, mailing_list):
    SenderDomainFactory(
        account=user.account, domain="news.acme.example", verified_at=timezone.now()
    )
    return {
        "name": "Autumn",
        "lists": [mailing_list.pk],
        "subject": "Hello",
        "from_name": "Acme News",
        "from_email": "news@news.acme.example",
        "reply_to": "",
        "html_body": "<p>Hello</p>",
        "text_body": "",
    }


SAVE_AND_PREVIEW_ATTACKS = [
    "{{ settings.SECRET_KEY }}",
    "{{ request.user.password }}",
    "{{ subscriber.__class__.__mro__[1].__subclasses__() }}",
    "{{ subscriber.mailing_list.subscribers.all() }}",
    "{{ cycler.__init__.__globals__.os.environ }}",
    "{{ range(10**9) | list }}",
    "{{ 'x' * 10**9 }}",
    "{{ subscriber.name }}}}{{ settings }}",
    "{{ " + "subscriber." * 30 + "name }}",
]


@pytest.mark.parametrize("field", ["html_body", "subject", "text_body"])
@pytest.mark.parametrize("attack", SAVE_AND_PREVIEW_ATTACKS)
def test_saving_an_attack_is_refused_on_its_field_and_saves_nothing(
    sender, fields, ann, field, attack
):
    response = sender.post(reverse("campaign_create"), {**fields, field: attack, "action": "save"})

    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert not Campaign.objects.exists()
    assert settings.SECRET_KEY not in response.content.decode()


@pytest.mark.parametrize("attack", SAVE_AND_PREVIEW_ATTACKS)
def test_previewing_an_attack_shows_the_error_and_no_message(sender, fields, ann, bob, attack):
    response = sender.post(
        reverse("campaign_preview_new"), {**fields, "html_body": attack, "subscriber_id": ann.pk}
    )

    assert response.status_code == 200
    data = response.json()
    assert list(data["errors"]) == ["html_body"]
    assert data["html"] == data["text"] == ""
    assert settings.SECRET_KEY not in response.content.decode()
    # Bob is on the sender's own list (a choice to preview as), never in Ann's message.
    assert bob.email not in data["html"] + data["text"] + data["subject"]


def test_the_api_refuses_an_attack_with_a_400_on_the_field(token_client, fields):
    data = {**fields, "html_body": "<p>{{ settings.SECRET_KEY }}</p>"}
    response = token_client.post("/api/v1/campaigns/", data, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["html_body"]
    assert not Campaign.objects.exists()


def test_template_statements_in_a_body_are_only_text(sender, fields, ann):
    """Only {{ }} tags are evaluated: loops, macros, includes and recursion stay words."""
    statements = (
        "{% for i in range(999999999) %}x{% endfor %}"
        "{% macro m() %}{{ '{{' }}{% endmacro %}"
        "{% include '/etc/passwd' %}{% extends 'base.html' %}{% debug %}"
    )
    response = sender.post(
        reverse("campaign_preview_new"),
        {**fields, "html_body": f"<p>{statements}</p>", "subscriber_id": ann.pk},
    )

    data = response.json()
    assert data["errors"] == {}
    assert "{% for i in range(999999999) %}x{% endfor %}" in data["text"]
    assert "{% include '/etc/passwd' %}" in data["text"]
    assert "root:" not in data["html"]


def test_merge_values_are_data_never_a_second_template(sender, fields, mailing_list):
    """A subscriber who signs up as "{{ settings.SECRET_KEY }}" is greeted by that name, not by
    the key, and HTML in their data is escaped in the HTML part."""
    mallory = SubscriberFactory(
        mailing_list=mailing_list,
        email="mallory@example.org",
        name="{{ settings.SECRET_KEY }} {% debug %}",
        attributes={"city": "<script>alert(1)</script>"},
    )
    body = "<p>Hi {{ subscriber.name }} from {{ subscriber.attributes.city }}</p>"
    response = sender.post(
        reverse("campaign_preview_new"),
        {
            **fields,
            "html_body": body,
            "subject": "Hi {{ subscriber.name }}",
            "subscriber_id": mallory.pk,
        },
    )

    data = response.json()
    assert data["errors"] == {}
    assert data["subject"] == "Hi {{ settings.SECRET_KEY }} {% debug %}"
    assert (
        "Hi {{ settings.SECRET_KEY }} {% debug %} from &lt;script&gt;alert(1)&lt;/script&gt;"
        in (data["html"])
    )
    assert "<script>" not in data["html"]
    assert settings.SECRET_KEY not in response.content.decode()


def test_previewing_as_another_accounts_subscriber_shows_only_ones_own(sender, fields, ann):
    stranger = SubscriberFactory(email="stranger@example.net", name="Stranger")
    response = sender.post(
        reverse("campaign_preview_new"),
        {**fields, "html_body": "<p>{{ subscriber.email }}</p>", "subscriber_id": stranger.pk},
    )

    data = response.json()
    assert "stranger@example.net" not in response.content.decode()
    assert data["recipient"]["email"] == "ann@example.org"
    assert data["errors"] == {
        "subscriber_id": [
            "That subscriber is not on the chosen lists; showing the first one instead."
        ]
    }


def test_lookups_beyond_the_context_render_empty_for_the_recipient(sender, fields, ann, bob):
    body = (
        "<p>[{{ subscriber.mailing_list }}][{{ list.subscribers }}][{{ company.account }}]"
        "[{{ subscriber.items }}][{{ list.name.upper }}][{{ subscriber.attributes.city }}]</p>"
    )
    response = sender.post(
        reverse("campaign_preview_new"), {**fields, "html_body": body, "subscriber_id": ann.pk}
    )

    data = response.json()
    assert data["errors"] == {}
    assert "[][][][][][Leeds]" in data["html"]
    assert bob.email not in data["html"] + data["text"]
    assert not OBJECT_REPR.search(data["html"])
