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
from dataclasses import dataclass
from typing import Any

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


class _DataOnlyEnvironment(SandboxedEnvironment):
    """Lookups reach the context's data and nothing of the Python objects holding it: `a.b` and
    `a["b"]` are keys of a dict (or a position in a text or list), so `subscriber.items` or
    `list.name.upper` are missing values, not "<built-in method items of dict object at
    0x7f...>" in every recipient's message, and an attribute named `items` is found."""

    def getattr(self, obj, attribute):
        return self.getitem(obj, attribute)

    def getitem(self, obj, argument):
        if isinstance(obj, dict) and isinstance(argument, str | int) and argument in obj:
            return obj[argument]
        if isinstance(obj, str | list) and type(argument) is int and 0 <= argument < len(obj):
            return obj[argument]
        return self.undefined(obj=obj, name=argument)


# Missing values (an attribute one subscriber lacks) are empty, or what `default` gives.
_environment = _DataOnlyEnvironment(autoescape=False, undefined=ChainableUndefined)


@dataclass(frozen=True)
class MergeTag:
    """One validated tag: its source and its expression, checked against the allowed shapes."""

    source: str
    expression: nodes.Expr


class MergeProgram:
    """A campaign's distinct merge tags compiled into one sandboxed Jinja template, so that a
    recipient costs one template context, not one per tag (a 30 KB newsletter easily has
    sixty). The template is assembled from the validated expressions as syntax trees, never
    from text, so no tag can step outside its own expression."""

    def __init__(self, tags: list[MergeTag]):
        body: list[nodes.Node] = [
            nodes.Assign(nodes.Name(f"v{index}", "store"), tag.expression)
            for index, tag in enumerate(tags)
        ]
        tree = nodes.Template(body)
        tree.set_lineno(1, override=False)
        tree.set_environment(_environment)
        self._template = _environment.template_class.from_code(
            _environment, _environment.compile(tree), _environment.make_globals(None), None
        )
        self._names = [f"v{index}" for index in range(len(tags))]
        self.sources = [tag.source for tag in tags]

    def __len__(self) -> int:
        return len(self._names)

    def evaluate(self, context: dict) -> list[str]:
        """Each tag's value for this context, as text (missing values are empty)."""
        if not self._names:
            return []
        module = self._template.make_module(context)
        values = [getattr(module, name) for name in self._names]
        return ["" if value is None else str(value) for value in values]


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
    return MergeTag(source=source, expression=outputs[0].nodes[0])


def attribute_keys(tags: list[MergeTag]) -> set[str] | None:
    """The subscriber attributes `tags` read (`subscriber.attributes.city` -> "city"), or None
    when a tag reads the attributes as a whole. What approval snapshots of each recipient."""
    keys: set[str] = set()
    for tag in tags:
        for node in tag.expression.find_all((nodes.Getattr, nodes.Getitem, nodes.Name)):
            if not _is_attributes(node):
                continue
            parent = _parent_lookup(tag.expression, node)
            if parent is None:
                return None
            keys.add(str(parent))
        if isinstance(tag.expression, nodes.Getattr | nodes.Getitem) and _is_attributes(
            tag.expression
        ):
            return None
    return keys


def _is_attributes(node: nodes.Node) -> bool:
    """Whether `node` is the `subscriber.attributes` lookup itself."""
    name = getattr(node, "attr", None)
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        name = node.arg.value
    inner = getattr(node, "node", None)
    return (
        isinstance(node, nodes.Getattr | nodes.Getitem)
        and name == "attributes"
        and isinstance(inner, nodes.Name)
        and inner.name == "subscriber"
    )


def _parent_lookup(root: nodes.Node, child: nodes.Node) -> str | int | None:
    """The key looked up on `child` (`child.city`, `child["city"]`), or None if nothing is."""
    for node in [root, *root.find_all((nodes.Getattr, nodes.Getitem))]:
        if isinstance(node, nodes.Getattr | nodes.Getitem) and node.node is child:
            if isinstance(node, nodes.Getattr):
                return node.attr
            if isinstance(node.arg, nodes.Const):
                return node.arg.value
    return None


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
    subscriber: dict[str, Any] = {key: value for key, value in fields.items() if value}
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
