"""The API reference page (/api/v1/docs/, config/api_docs.py): every operation of the generated
schema is on it, references link to the schema they name, and the page is ours (translated
chrome, no script, nothing third-party)."""

import re

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator

from config.api_docs import HTTP_METHODS, api_reference, build_reference, schema_anchor

ANCHOR = re.compile(r'\sid="([^"]+)"')
LINK = re.compile(r'href="#([^"]+)"')


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.fixture
def page(db) -> str:
    response = Client(HTTP_ACCEPT_LANGUAGE="en").get("/api/v1/docs/")
    assert response.status_code == 200
    return response.content.decode()


def test_the_page_shows_every_operation_of_the_schema(schema, page):
    operations = [
        (method.upper(), path, operation["operationId"])
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]
    assert len(operations) > 60
    assert api_reference("en").paths == set(schema["paths"])
    anchors = set(ANCHOR.findall(page))
    for method, path, operation_id in operations:
        heading = re.search(rf'id="op-{re.escape(operation_id)}-heading">(.*?)</h3>', page)
        assert heading, f"{method} {path} ({operation_id}) is not on the page"
        assert f">{method}</span>" in heading.group(1)
        assert f'<code class="path">{path}</code>' in heading.group(1)
        # ... and in the contents.
        assert f'href="#op-{operation_id}"' in page
        assert f"op-{operation_id}" in anchors


def test_a_referenced_schema_is_linked_and_every_link_lands(schema, page):
    # POST /lists/ takes a ListInputRequest: its body names it, linking to its section.
    body = schema["paths"]["/api/v1/lists/"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/ListInputRequest"}
    create = page[page.index('id="op-lists_create"') :]
    create = create[: create.index("</article>")]
    assert '<a href="#schema-ListInputRequest">ListInputRequest</a>' in create
    # Its fields are shown there, the enum's choices listed.
    assert '<th scope="row" class="name">privacy_policy_url</th>' in create
    assert "<code>en</code> · English" in create
    section = page[page.index('id="schema-ListInputRequest"') :]
    assert '<th scope="row" class="name">purpose</th>' in section[: section.index("</article>")]
    # Every component has its section and no link leads nowhere.
    anchors = set(ANCHOR.findall(page))
    for name in schema["components"]["schemas"]:
        assert schema_anchor(name) in anchors, name
    missing = set(LINK.findall(page)) - anchors
    assert not missing


def test_the_page_is_ours_translated_and_under_the_strict_policy(db):
    response = Client(HTTP_ACCEPT_LANGUAGE="ru").get("/api/v1/docs/")
    html = response.content.decode()
    assert '<html lang="ru">' in html
    assert "Скачать схему OpenAPI" in html
    assert 'href="/api/v1/schema/"' in html
    assert "Authorization: Token &lt;key&gt;" in html
    assert "<script>" not in html and "<style" not in html and " style=" not in html
    assert "swagger" not in html.lower() and "https://cdn" not in html
    # The schema's own texts stay as generated.
    assert "The requesting user&#x27;s account" in html
    assert api_reference("ru") is api_reference("ru")  # generated once per language


def test_build_reference_reads_nested_objects_enums_and_public_operations():
    document = {
        "info": {"title": "T", "version": "1", "description": "Use `X`."},
        "paths": {
            "/api/v1/things/": {
                "post": {
                    "operationId": "things_create",
                    "tags": ["things"],
                    "security": [{}],
                    "parameters": [
                        {"name": "q", "in": "query", "schema": {"type": "string"}, "required": True}
                    ],
                    "requestBody": {
                        "content": {"application/json": {"schema": {"$ref": REF + "Thing"}}},
                        "required": True,
                    },
                    "responses": {"201": {"description": "Made.", "content": {}}},
                }
            }
        },
        "components": {
            "schemas": {
                "Thing": {
                    "type": "object",
                    "properties": {
                        "kind": {
                            "allOf": [{"$ref": REF + "KindEnum"}],
                            "description": "Which.\n\n* `a` - Alpha\n* `b` - b",
                        },
                        "parts": {"type": "array", "items": {"$ref": REF + "Part"}},
                        "parent": {"allOf": [{"$ref": REF + "Thing"}], "nullable": True},
                    },
                    "required": ["kind"],
                },
                "Part": {
                    "type": "object",
                    "properties": {"size": {"type": "integer", "maximum": 9}},
                },
                "KindEnum": {"enum": ["a", "b"], "type": "string"},
            }
        },
    }
    reference = build_reference(document)
    [tag] = reference.tags
    [operation] = tag.operations
    assert (operation.method, operation.short_path, operation.authenticated) == (
        "POST",
        "/things/",
        False,
    )
    assert operation.parameters[0].required
    fields = {f.name: f for f in operation.body.fields}
    # The array's items are expanded in a request body; the schema is not expanded in itself.
    assert list(fields) == ["kind", "parts", "parts[].size", "parent"]
    assert fields["parts[].size"].depth == 1
    assert fields["parts[].size"].notes == ["maximum: 9"]
    assert fields["kind"].required and not fields["parts"].required
    assert str(fields["kind"].description) == "<p>Which.</p>"
    assert [(c.value, c.label) for c in fields["kind"].choices] == [("a", "Alpha"), ("b", "")]
    assert [(p.text, p.href) for p in fields["parts"].type] == [
        ("array of ", ""),
        ("Part", "#schema-Part"),
    ]
    assert "may be null" in fields["parent"].notes
    # In the schemas section a nested component is a link, not expanded.
    thing = next(s for s in reference.schemas if s.name == "Thing")
    assert [f.name for f in thing.fields] == ["kind", "parts", "parent"]
    assert str(reference.description) == "<p>Use <code>X</code>.</p>"


REF = "#/components/schemas/"
