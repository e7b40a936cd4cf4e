"""Merge tags: `{{ subscriber.name }}`, `{{ subscriber.attributes.city | default("friend") }}`.

A campaign author writes them; every recipient's message fills them in. They are Jinja2
expressions, compiled once per campaign in Jinja's sandbox, but only a small, safe part of the
language is accepted: a name from MERGE_ROOTS, attribute or key lookups that do not start with an
underscore, and a few string filters with constant arguments. No calls, no operators, no loops,
no includes: an author can reach the recipient's own data and nothing else (not settings, not the
database, not other subscribers), and cannot make a render loop or allocate without bound. The
context they see is built of plain dicts and strings, never model instances.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from jinja2 import ChainableUndefined, TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment

from config.errors import ApplicationError

MERGE_TAG = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
MERGE_ROOTS = {
    "subscriber": "email, name, first_name, last_name, phone and attributes.<name>",
    "list": "name",
    "company": "name",
}
ALLOWED_FILTERS = frozenset(
    {"default", "d", "upper", "lower", "title", "capitalize", "trim", "truncate"}
)
MAX_EXPRESSION_LENGTH = 200
HELP = (
    "Use {{ subscriber.name }}, {{ subscriber.first_name }}, {{ subscriber.email }}, "
    '{{ subscriber.attributes.city | default("there") }}, {{ list.name }} or {{ company.name }}.'
)


class MergeTagError(ApplicationError):
    """A merge tag outside what the sandbox accepts; names the tag and the field it is in."""


# Missing values (an attribute one subscriber lacks) are empty, or what `default` gives.
_environment = SandboxedEnvironment(autoescape=False, undefined=ChainableUndefined)


@dataclass(frozen=True)
class MergeTag:
    source: str
    evaluate: Callable[[dict], object]

    def __call__(self, context: dict) -> str:
        value = self.evaluate(context)
        return "" if value is None else str(value)


def _check(node: nodes.Node, tag: str, field: str) -> None:
    def refuse(why: str) -> MergeTagError:
        return MergeTagError(
            f"The merge tag {{{{{tag}}}}} is not allowed: {why} {HELP}", field=field
        )

    if isinstance(node, nodes.Name):
        if node.name not in MERGE_ROOTS:
            raise refuse(f"there is no “{node.name}”.")
    elif isinstance(node, nodes.Getattr):
        if node.attr.startswith("_"):
            raise refuse("names starting with an underscore are private.")
        _check(node.node, tag, field)
    elif isinstance(node, nodes.Getitem):
        if not isinstance(node.arg, nodes.Const) or not isinstance(node.arg.value, str | int):
            raise refuse("only fixed keys can be looked up.")
        if isinstance(node.arg.value, str) and node.arg.value.startswith("_"):
            raise refuse("names starting with an underscore are private.")
        _check(node.node, tag, field)
    elif isinstance(node, nodes.Filter):
        if node.name not in ALLOWED_FILTERS:
            raise refuse(f"the filter “{node.name}” is not available.")
        if node.kwargs or node.dyn_args or node.dyn_kwargs:
            raise refuse("filters take plain arguments only.")
        for argument in node.args:
            if not isinstance(argument, nodes.Const) or not isinstance(
                argument.value, str | int | bool
            ):
                raise refuse("filter arguments must be fixed text or numbers.")
            if isinstance(argument.value, int) and abs(argument.value) > 10_000:
                raise refuse("that number is too large.")
        if node.node is None:
            raise refuse("a filter needs a value.")
        _check(node.node, tag, field)
    elif isinstance(node, nodes.Const) and isinstance(node.value, str):
        pass
    else:
        raise refuse("only names, lookups and simple filters can be used.")


def compile_merge_tag(expression: str, *, field: str) -> MergeTag:
    """The compiled tag for the text between `{{` and `}}`, or MergeTagError."""
    source = expression.strip()
    if not source:
        raise MergeTagError(f"An empty merge tag {{{{}}}} was found. {HELP}", field=field)
    if len(source) > MAX_EXPRESSION_LENGTH:
        raise MergeTagError(f"A merge tag is too long. {HELP}", field=field)
    try:
        template = _environment.parse("{{ " + source + " }}")
    except TemplateSyntaxError as exc:
        raise MergeTagError(
            f"The merge tag {{{{ {source} }}}} cannot be read ({exc.message}). {HELP}", field=field
        ) from exc
    outputs = template.body
    if len(outputs) != 1 or not isinstance(outputs[0], nodes.Output) or len(outputs[0].nodes) != 1:
        raise MergeTagError(
            f"The merge tag {{{{ {source} }}}} is not one value. {HELP}", field=field
        )
    _check(outputs[0].nodes[0], source, field)
    return MergeTag(source=source, evaluate=_environment.compile_expression(source))


def merge_context(
    *,
    email: str,
    name: str,
    phone: str,
    attributes: dict,
    list_name: str,
    company_name: str,
) -> dict:
    """What merge tags can see: one recipient's own data, as plain values. Empty values are
    left out, so that `default(...)` applies to a name nobody gave as it does to a missing one."""
    first_name, _, last_name = name.strip().partition(" ")
    fields = {
        "email": email,
        "name": name.strip(),
        "first_name": first_name,
        "last_name": last_name.strip(),
        "phone": phone,
    }
    subscriber = {key: value for key, value in fields.items() if value}
    if isinstance(attributes, dict):
        subscriber["attributes"] = {
            key: value for key, value in attributes.items() if value not in ("", None)
        }
    else:
        subscriber["attributes"] = {}
    return {
        "subscriber": subscriber,
        "list": {"name": list_name},
        "company": {"name": company_name},
    }
