"""The merge sandbox: the recipient's own data and nothing else."""

import pytest

from campaigns.merge import MergeProgram, MergeTagError, compile_merge_tag, merge_context


def context(**changes):
    values = {
        "email": "ann@example.org",
        "name": "Ann Lee",
        "phone": "+44 1",
        "attributes": {"city": "Leeds", "tier": {"name": "gold"}},
        "list_name": "News",
        "company_name": "Acme",
    }
    values.update(changes)
    return merge_context(**values)


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("subscriber.name", "Ann Lee"),
        ("subscriber.first_name", "Ann"),
        ("subscriber.last_name", "Lee"),
        ("subscriber.email", "ann@example.org"),
        ("subscriber.attributes.city", "Leeds"),
        ("subscriber['attributes']['city']", "Leeds"),
        ("subscriber.attributes.tier.name", "gold"),
        ("subscriber.attributes.country | default('UK')", "UK"),
        ("subscriber.attributes.city | upper", "LEEDS"),
        ("subscriber.name | truncate(5, True, '…', 0)", "Ann …"),
        ("list.name", "News"),
        ("company.name", "Acme"),
    ],
)
def test_allowed_tags_give_the_subscribers_own_data(tag, expected):
    program = MergeProgram([compile_merge_tag(tag, field="html_body")])

    assert program.evaluate(context()) == [expected]


def test_one_program_evaluates_every_tag_in_order():
    tags = [compile_merge_tag(t, field="subject") for t in ("company.name", "subscriber.phone")]

    assert MergeProgram(tags).evaluate(context()) == ["Acme", "+44 1"]
    assert MergeProgram(tags).evaluate(context(phone="")) == ["Acme", ""]
    assert MergeProgram([]).evaluate(context()) == []


HOSTILE = [
    "settings.SECRET_KEY",
    "config",
    "request",
    "self",
    "campaign.account",
    "subscriber.__class__",
    "subscriber.attributes.__class__.__mro__",
    "subscriber['__class__']",
    "subscriber._meta",
    "''.__class__",
    "subscriber.name.upper()",
    "subscriber.email.__len__()",
    "range(100000)",
    "lipsum()",
    "cycler",
    "namespace()",
    "subscriber.name * 100000000",
    "subscriber.name ~ subscriber.email",
    "subscriber.name if subscriber else 1",
    "subscriber.name | attr('__class__')",
    "subscriber.name | map('upper')",
    "subscriber.name | format('%s')",
    "subscriber.name | default(subscriber.email)",
    "subscriber.name | truncate(10**9)",
    "subscriber.name | truncate(99999)",
    "subscriber[subscriber.name]",
    "[1, 2]",
    "subscriber.name }}{{ settings",
    "",
    "x" * 300,
]


@pytest.mark.parametrize("tag", HOSTILE)
def test_the_sandbox_refuses_anything_beyond_lookups(tag):
    with pytest.raises(MergeTagError) as refused:
        compile_merge_tag(tag, field="subject")
    assert refused.value.field == "subject"
    assert refused.value.status_code == 400


def test_the_context_is_plain_data_of_one_recipient():
    seen = context()

    assert seen == {
        "subscriber": {
            "email": "ann@example.org",
            "name": "Ann Lee",
            "first_name": "Ann",
            "last_name": "Lee",
            "phone": "+44 1",
            "attributes": {"city": "Leeds", "tier": {"name": "gold"}},
        },
        "list": {"name": "News"},
        "company": {"name": "Acme"},
    }


def test_an_unknown_name_is_explained():
    with pytest.raises(MergeTagError) as refused:
        compile_merge_tag("settings.SECRET_KEY", field="html_body")

    assert "there is no “settings”" in refused.value.message
    assert "{{ subscriber.name }}" in refused.value.message
