"""The API reference page (/api/v1/docs/): the OpenAPI document drf-spectacular generates, read
into a view model a Django template renders. The page is ours (templates/api/docs.html), so it
has our chrome, our stylesheet and no script: Swagger UI's and Redoc's pages failed axe and the
Content-Security-Policy. The schema's own texts stay as generated; only the page is translated.

`build_reference(schema)` is pure (a dict in, dataclasses out); `api_reference(language)` generates
the schema once per language and process, since it only changes with the code."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field

from django.utils import translation
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

REF_PREFIX = "#/components/schemas/"
HTTP_METHODS = ("get", "post", "put", "patch", "delete")
# Nested objects are shown inline to this depth; deeper ones are a link to their schema.
MAX_DEPTH = 3
# drf-spectacular appends an enum's choices to a description as "* `value` - Label" lines.
CHOICE_LINE = re.compile(r"^\* `(?P<value>[^`]*)` - (?P<label>.*)$")
CODE = re.compile(r"`([^`]+)`")


@dataclass(frozen=True)
class TypePart:
    """A piece of a type's name: plain text, or a schema's name linking to its anchor."""

    text: str
    href: str = ""


@dataclass(frozen=True)
class Choice:
    value: str
    label: str  # empty when it only repeats the value


@dataclass
class Field:
    name: str
    depth: int
    type: list[TypePart]
    required: bool
    description: SafeString
    notes: list[str]  # nullable, read-only, default, limits: as the schema states them
    choices: list[Choice]


@dataclass
class Parameter:
    name: str
    location: str
    type: list[TypePart]
    required: bool
    description: SafeString
    choices: list[Choice]


@dataclass
class Body:
    content_types: list[str]
    required: bool
    type: list[TypePart]
    fields: list[Field]
    example: str


@dataclass
class Response:
    status: str
    description: SafeString
    type: list[TypePart]
    fields: list[Field]
    headers: list[str]
    example: str

    @property
    def succeeds(self) -> bool:
        return self.status.startswith("2")

    @property
    def inline_fields(self) -> list[Field]:
        """The fields of a body that is no component (the errors' `detail`): a component's are
        in its section, which the type links to."""
        return [] if any(part.href for part in self.type) else self.fields


@dataclass
class Operation:
    method: str
    path: str
    short_path: str  # without the prefix every path has (/api/v1), for the contents
    anchor: str
    summary: str
    description: SafeString
    authenticated: bool
    deprecated: bool
    parameters: list[Parameter]
    body: Body | None
    responses: list[Response]


@dataclass
class Tag:
    name: str
    anchor: str
    operations: list[Operation] = field(default_factory=list)


@dataclass
class Schema:
    name: str
    anchor: str
    description: SafeString
    type: list[TypePart]
    fields: list[Field]
    choices: list[Choice]


@dataclass
class Reference:
    title: str
    version: str
    description: SafeString
    tags: list[Tag]
    schemas: list[Schema]

    @property
    def paths(self) -> set[str]:
        return {operation.path for tag in self.tags for operation in tag.operations}


def api_reference(language: str) -> Reference:
    """The API reference in `language` (the schema's lazily translated texts), generated once per
    language and process."""
    return _cached_reference(language)


@functools.cache
def _cached_reference(language: str) -> Reference:
    from drf_spectacular.generators import SchemaGenerator

    with translation.override(language):
        schema = SchemaGenerator().get_schema(request=None, public=True)
        # Lazy texts become plain strings in this language, as the schema view would print them.
        schema = json.loads(json.dumps(schema, default=str))
        return build_reference(schema)


def build_reference(schema: dict) -> Reference:
    """Read an OpenAPI 3 document into the page's view model: operations grouped by tag (in
    alphabetical order), and every component schema with an anchor its references link to."""
    components = schema.get("components", {}).get("schemas", {})
    reader = _Reader(components, _common_prefix(list(schema.get("paths", {}))))
    tags: dict[str, Tag] = {}
    for path, item in schema.get("paths", {}).items():
        for method in HTTP_METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            name = (operation.get("tags") or ["default"])[0]
            tag = tags.setdefault(name, Tag(name=name, anchor=f"tag-{_slug(name)}"))
            tag.operations.append(reader.operation(method, path, operation, schema))
    info = schema.get("info", {})
    return Reference(
        title=info.get("title", ""),
        version=info.get("version", ""),
        description=_text(info.get("description", "")),
        tags=[tags[name] for name in sorted(tags)],
        schemas=[reader.component(name) for name in sorted(components)],
    )


def schema_anchor(name: str) -> str:
    return f"schema-{_slug(name)}"


class _Reader:
    def __init__(self, components: dict, prefix: str) -> None:
        self.components = components
        self.prefix = prefix

    # --- operations -------------------------------------------------------------------------

    def operation(self, method: str, path: str, operation: dict, document: dict) -> Operation:
        security = operation.get("security", document.get("security", []))
        anchor = operation.get("operationId") or f"{method}-{path}"
        return Operation(
            method=method.upper(),
            path=path,
            short_path=path.removeprefix(self.prefix) or path,
            anchor=f"op-{_slug(anchor)}",
            summary=operation.get("summary", ""),
            description=_text(operation.get("description", "")),
            # `[{}]` (or no requirement) is the public one: no credentials needed.
            authenticated=any(requirement for requirement in security),
            deprecated=bool(operation.get("deprecated")),
            parameters=[self.parameter(p) for p in operation.get("parameters", [])],
            body=self.body(operation["requestBody"]) if "requestBody" in operation else None,
            responses=[
                self.response(status, answer)
                for status, answer in sorted(operation.get("responses", {}).items())
            ],
        )

    def parameter(self, parameter: dict) -> Parameter:
        schema = parameter.get("schema", {})
        description, choices = self.described(parameter.get("description", ""), schema)
        return Parameter(
            name=parameter.get("name", ""),
            location=parameter.get("in", ""),
            type=self.type(schema),
            required=bool(parameter.get("required")),
            description=description,
            choices=choices,
        )

    def body(self, body: dict) -> Body:
        content = body.get("content", {})
        schema, example = self._media(content)
        return Body(
            content_types=list(content),
            required=bool(body.get("required")),
            type=self.type(schema),
            fields=self.fields(schema, expand=True),
            example=example,
        )

    def response(self, status: str, answer: dict) -> Response:
        content = answer.get("content", {})
        schema, example = self._media(content)
        return Response(
            status=status,
            description=_text(answer.get("description", "")),
            type=self.type(schema) if content else [],
            fields=self.fields(schema) if content else [],
            headers=list(answer.get("headers", {})),
            example=example,
        )

    def _media(self, content: dict) -> tuple[dict, str]:
        """The schema and first example of the JSON body (else of the first content type)."""
        media: dict = content.get("application/json") or next(iter(content.values()), {})
        examples: dict[str, dict] = media.get("examples", {})
        example = next(iter(examples.values()), {}).get("value") if examples else None
        if example is None:
            example = media.get("example")
        shown = json.dumps(example, indent=2, ensure_ascii=False) if example is not None else ""
        return media.get("schema", {}), shown

    # --- schemas ----------------------------------------------------------------------------

    def component(self, name: str) -> Schema:
        schema = self.components[name]
        description, choices = self.described(schema.get("description", ""), schema)
        return Schema(
            name=name,
            anchor=schema_anchor(name),
            description=description,
            type=self._plain_type(schema),
            fields=self.fields(schema, seen=frozenset({name})),
            choices=choices,
        )

    def type(self, schema: dict) -> list[TypePart]:
        """A schema's type in words: `string (email)`, `array of <ListOutput>`, `A or B`."""
        if "$ref" in schema:
            name = _ref_name(schema["$ref"])
            return [TypePart(name, f"#{schema_anchor(name)}")]
        for key, word in (("allOf", _("and")), ("oneOf", _("or")), ("anyOf", _("or"))):
            if key in schema:
                parts: list[TypePart] = []
                for index, option in enumerate(schema[key]):
                    if index:
                        parts.append(TypePart(f" {word} "))
                    parts += self.type(option)
                return parts
        return self._plain_type(schema)

    def _plain_type(self, schema: dict) -> list[TypePart]:
        kind = schema.get("type")
        if kind == "array":
            return [TypePart(_("array of") + " "), *self.type(schema.get("items", {}))]
        if kind == "object" and "properties" not in schema and "additionalProperties" in schema:
            values = schema["additionalProperties"]
            if isinstance(values, dict) and values:
                return [TypePart(_("object of") + " "), *self.type(values)]
            return [TypePart("object")]
        if not kind:
            return [TypePart(_("any"))]
        return [TypePart(f"{kind} ({schema['format']})" if "format" in schema else kind)]

    def fields(
        self,
        schema: dict,
        *,
        expand: bool = False,
        prefix: str = "",
        depth: int = 0,
        seen: frozenset = frozenset(),
    ) -> list[Field]:
        """The object's properties, nested objects' ones after theirs (named `parent.child`, or
        `parent[].child` in an array) to MAX_DEPTH. A nested object that is a component is a link
        to it, unless `expand` (a request body reads in one place); no schema inside itself."""
        target, name = self.resolve(schema)
        if name:
            seen = seen | {name}
        required = set(target.get("required", []))
        found: list[Field] = []
        for key, prop in target.get("properties", {}).items():
            description, choices = self.described(prop.get("description", ""), prop)
            found.append(
                Field(
                    name=prefix + key,
                    depth=depth,
                    type=self.type(prop),
                    required=key in required,
                    description=description,
                    notes=_notes(prop),
                    choices=choices,
                )
            )
            inner, suffix = (
                (prop.get("items", {}), "[]")
                if prop.get("type") == "array"
                else (
                    prop,
                    "",
                )
            )
            nested, nested_name = self.resolve(inner)
            if (
                nested.get("properties")
                and (expand or not nested_name)
                and depth + 1 < MAX_DEPTH
                and nested_name not in seen
            ):
                found += self.fields(
                    inner,
                    expand=expand,
                    prefix=f"{prefix}{key}{suffix}.",
                    depth=depth + 1,
                    seen=seen,
                )
        return found

    def resolve(self, schema: dict) -> tuple[dict, str]:
        """The schema a `$ref` (or an `allOf` of one, drf-spectacular's way to annotate a
        reference) points to, and that component's name; the schema itself otherwise."""
        if "$ref" in schema:
            name = _ref_name(schema["$ref"])
            return self.components.get(name, {}), name
        if len(schema.get("allOf", [])) == 1:
            return self.resolve(schema["allOf"][0])
        return schema, ""

    def described(self, description: str, schema: dict) -> tuple[SafeString, list[Choice]]:
        """The description without drf-spectacular's list of choices, and the choices: the
        schema's enum (or its referenced enum's) with the labels that list gave them."""
        labels: dict[str, str] = {}
        kept = []
        for line in description.splitlines():
            match = CHOICE_LINE.match(line.strip())
            if match:
                labels[match["value"]] = match["label"]
            else:
                kept.append(line)
        target, _ = self.resolve(schema)
        if "enum" not in target:
            # `oneOf: [Enum, BlankEnum, NullEnum]`: the first option with choices.
            options = schema.get("oneOf") or schema.get("anyOf") or []
            target = next(
                (self.resolve(o)[0] for o in options if "enum" in self.resolve(o)[0]), target
            )
        if not labels:
            labels = {
                match["value"]: match["label"]
                for line in target.get("description", "").splitlines()
                if (match := CHOICE_LINE.match(line.strip()))
            }
        choices = [
            Choice(
                value="null" if value is None else str(value),
                label=labels.get(str(value), "") if labels.get(str(value)) != str(value) else "",
            )
            for value in target.get("enum", [])
        ]
        return _text("\n".join(kept).strip()), choices


# The limits with a number of things, each its own literal call so makemessages finds both forms.
COUNTED_NOTES = {
    "minLength": lambda n: ngettext(
        "at least %(count)s character", "at least %(count)s characters", n
    ),
    "maxLength": lambda n: ngettext(
        "at most %(count)s character", "at most %(count)s characters", n
    ),
    "minItems": lambda n: ngettext("at least %(count)s item", "at least %(count)s items", n),
    "maxItems": lambda n: ngettext("at most %(count)s item", "at most %(count)s items", n),
}


def _notes(schema: dict) -> list[str]:
    """What the schema says of a value beside its type, in the reader's language."""
    notes = []
    for key, word in (
        ("nullable", _("may be null")),
        ("readOnly", _("read-only")),
        ("writeOnly", _("write-only")),
    ):
        if schema.get(key):
            notes.append(word)
    if "default" in schema:
        notes.append(_("default: %(value)s") % {"value": json.dumps(schema["default"])})
    for key, text in (
        ("minimum", _("minimum: %(value)s")),
        ("maximum", _("maximum: %(value)s")),
        ("pattern", _("pattern: %(value)s")),
    ):
        if key in schema:
            notes.append(text % {"value": schema[key]})
    for key, counted in COUNTED_NOTES.items():
        if key in schema:
            notes.append(counted(schema[key]) % {"count": schema[key]})
    return notes


def _common_prefix(paths: list[str]) -> str:
    """The segments every path starts with ("/api/v1"), never the whole of a path."""
    split = [path.strip("/").split("/") for path in paths]
    if not split:
        return ""
    common = []
    for segments in zip(*split, strict=False):
        if len(set(segments)) > 1:
            break
        common.append(segments[0])
    common = common[: min(len(segments) for segments in split) - 1]
    return "".join(f"/{segment}" for segment in common)


def _ref_name(ref: str) -> str:
    return ref.removeprefix(REF_PREFIX)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


def _text(text: str) -> SafeString:
    """A schema text as HTML: escaped, `code` spans, paragraphs at blank lines."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text or "") if p.strip()]
    html = "".join(
        "<p>{}</p>".format(CODE.sub(r"<code>\1</code>", escape(p)).replace("\n", "<br>"))
        for p in paragraphs
    )
    return mark_safe(html)  # noqa: S308 - every piece was escaped above
