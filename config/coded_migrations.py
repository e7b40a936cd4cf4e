"""A migration operation that turns a text column into a JSON one holding coded text
(config.coded_text), keeping every old row: its sentence becomes a JSON string, which
`render` shows unchanged.

Django's own AlterField cannot do it: PostgreSQL casts with `::jsonb`, which refuses a plain
sentence, and SQLite copies the rows into a table whose JSON_VALID check refuses them too.
"""

from __future__ import annotations

from django.db import migrations, models


class TextToCoded(migrations.AlterField):
    """AlterField from a CharField/TextField to `field` (a JSONField), old values quoted."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        old_model = from_state.apps.get_model(app_label, self.model_name)
        new_model = to_state.apps.get_model(app_label, self.model_name)
        old_field = old_model._meta.get_field(self.name)
        new_field = new_model._meta.get_field(self.name)
        quote = schema_editor.quote_name
        table, column = quote(old_model._meta.db_table), quote(old_field.column)
        if schema_editor.connection.vendor == "postgresql":
            # One statement, one table rewrite; the default goes first (it is text).
            schema_editor.execute(f"ALTER TABLE {table} ALTER COLUMN {column} DROP DEFAULT")
            schema_editor.execute(
                f"ALTER TABLE {table} ALTER COLUMN {column} TYPE jsonb USING to_jsonb({column})"
            )
            return
        # SQLite (the local database): quote in place, then let Django rebuild the table.
        schema_editor.execute(f"UPDATE {table} SET {column} = json_quote({column})")  # noqa: S608
        schema_editor.alter_field(old_model, old_field, new_field)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        old_model = from_state.apps.get_model(app_label, self.model_name)
        new_model = to_state.apps.get_model(app_label, self.model_name)
        coded_field = old_model._meta.get_field(self.name)
        text_field = new_model._meta.get_field(self.name)
        quote = schema_editor.quote_name
        table, column = quote(old_model._meta.db_table), quote(coded_field.column)
        # Going back loses the codes: a coded row becomes its code (the text is the code's).
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(
                f"ALTER TABLE {table} ALTER COLUMN {column} TYPE text USING CASE "
                f"WHEN jsonb_typeof({column}) = 'string' THEN {column} #>> '{{}}' "
                f"ELSE coalesce({column} ->> 'code', {column}::text) END"
            )
            schema_editor.alter_field(new_model, _as_text(coded_field), text_field)
            return
        # SQLite checks JSON_VALID on every update: back to text first, then unquote.
        schema_editor.alter_field(new_model, coded_field, text_field)
        unquoted = (
            f"CASE WHEN json_type({column}) = 'text' THEN json_extract({column}, '$') "
            f"ELSE coalesce(json_extract({column}, '$.code'), {column}) END"
        )
        schema_editor.execute(f"UPDATE {table} SET {column} = {unquoted}")  # noqa: S608

    def describe(self) -> str:
        return f"Store {self.model_name}.{self.name} as coded text (old rows quoted)"


def _as_text(field: models.Field) -> models.TextField:
    """The column as it is after the backwards cast: text, named as `field`."""
    text = models.TextField(blank=True)
    text.set_attributes_from_name(field.name)
    text.model = field.model
    return text
