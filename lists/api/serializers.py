from __future__ import annotations

import builtins
import json

from django.conf import settings
from rest_framework import serializers

from config.api import CodedTextField
from config.errors import ApplicationError
from config.parsers import holds_lone_surrogate
from lists.models import (
    ExportFormat,
    ExportJob,
    ExportSource,
    ImportJob,
    MailingList,
    Subscriber,
    SubscriberStatus,
)
from lists.services.consent import consent_source_check


class ListInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    purpose = serializers.CharField(
        help_text="What subscribers will receive; shown on the subscription form."
    )
    adult_content = serializers.BooleanField(default=False)
    # Checked by the service (lists.services.lists), which names the field in its 400.
    privacy_policy_url = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=500,
        help_text="Your privacy policy (http or https), linked from the subscription form. "
        "Required to create a list, and to change a list that has none yet.",
    )
    double_opt_in = serializers.BooleanField(default=True)
    track_opens = serializers.BooleanField(default=True)
    track_clicks = serializers.BooleanField(default=True)
    language = serializers.ChoiceField(
        choices=settings.LANGUAGES,
        required=False,
        help_text="What recipients read in: the message footer, the confirmation e-mail and the "
        "recipient pages (unless a recipient's browser asks for another language we have). "
        "Default: the account owner's language, else en.",
    )


class ListOutput(serializers.ModelSerializer):
    form_url = serializers.CharField(read_only=True, help_text="The hosted subscription form.")
    subscriber_count = serializers.IntegerField(
        read_only=True, help_text="Subscribers with status `subscribed`."
    )

    class Meta:
        model = MailingList
        fields = [
            "id",
            "name",
            "purpose",
            "adult_content",
            "privacy_policy_url",
            "double_opt_in",
            "track_opens",
            "track_clicks",
            "language",
            "public_id",
            "form_url",
            "subscriber_count",
            "created_at",
        ]


def _source_field(value: str) -> str:
    try:
        return consent_source_check(value)
    except ApplicationError as exc:
        raise serializers.ValidationError(exc.message) from exc


class ConsentInput(serializers.Serializer):
    # A declared field (the metaclass takes it off the class), not Field.source.
    source = serializers.CharField(  # type: ignore[assignment]
        help_text="web_form, form_checkbox, paper_form, client_reconfirmed or api. Purchased, "
        "leased, third-party, open-source and verbal/phone consent are refused."
    )
    obtained_at = serializers.DateTimeField(required=False)
    ip = serializers.IPAddressField(required=False, allow_null=True)
    user_agent = serializers.CharField(required=False, allow_blank=True, max_length=500)
    proof = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="Where the proof is (signed form, consent request and answer); required "
        "unless a form source gives the signer's IP.",
    )
    form_url = serializers.CharField(required=False, allow_blank=True, max_length=500)

    def validate_source(self, value: str) -> str:
        return _source_field(value)


# What a subscriber is added with, one at a time or in bulk (a comment, not a docstring: the
# schema would give it to SubscriberInput as its description).
class _SubscriberFields(serializers.Serializer):
    email = serializers.CharField(max_length=320)
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=40)
    attributes = serializers.DictField(required=False)
    consent = ConsentInput()


class SubscriberInput(_SubscriberFields):
    age_confirmed = serializers.BooleanField(
        required=False,
        default=False,
        help_text="The person confirmed being 18 or older: required (true) for a list with adult "
        "content, refused with a 400 naming this field otherwise.",
    )
    double_opt_in = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Send a confirmation e-mail first; defaults to the list's setting.",
    )


class SubscriberUpdateInput(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=40)
    attributes = serializers.DictField(required=False)


class SubscriberOutput(serializers.ModelSerializer):
    list = serializers.IntegerField(source="mailing_list_id", read_only=True)
    tags = serializers.SerializerMethodField(help_text="The names of the subscriber's tags.")

    class Meta:
        model = Subscriber
        fields = [
            "id",
            "list",
            "email",
            "name",
            "phone",
            "attributes",
            "status",
            "is_role_address",
            "tags",
            "created_at",
            "subscribed_at",
            "unsubscribed_at",
        ]

    def get_tags(self, obj) -> builtins.list[str]:  # (`list` is a field of this class)
        # Lists of subscribers prefetch `tag_links__tag`; one subscriber asks once.
        return sorted((link.tag.name for link in obj.tag_links.all()), key=str.lower)


class SubscriberFilter(serializers.Serializer):
    status = serializers.ChoiceField(choices=SubscriberStatus.choices, required=False)
    search = serializers.CharField(required=False, allow_blank=True, max_length=254)


class ExportFormatQuery(serializers.Serializer):
    format = serializers.ChoiceField(
        choices=["csv", "xlsx"],
        required=False,
        default="csv",
        help_text="csv (UTF-8 with a BOM, streamed) or xlsx.",
    )


class ExportStartInput(serializers.Serializer):
    # A declared field (the metaclass takes it off the class), not Field.source.
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=ExportSource.choices,
        help_text="list, segment, or account (every list of the account as a ZIP of CSV files; "
        "the owner's only).",
    )
    id = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=2**63 - 1,
        help_text="The list's or segment's id (not for account).",
    )
    format = serializers.ChoiceField(
        choices=ExportFormat.choices,
        help_text="csv or xlsx for a list or segment; zip for account.",
    )


class ExportJobOutput(serializers.ModelSerializer):
    id = serializers.IntegerField(read_only=True)
    object_id = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="The list's or segment's id; null for account."
    )
    progress = serializers.FloatField(read_only=True, help_text="0..1; 1 once the file is ready.")
    failure_reason = CodedTextField(
        read_only=True, help_text="Why the export failed, in the request's language."
    )
    download_url = serializers.SerializerMethodField(
        help_text="Where the file is, once `status` is done (until `expires_at`); null before."
    )

    class Meta:
        model = ExportJob
        fields = [
            "id",
            "source",
            "object_id",
            "label",
            "file_format",
            "status",
            "rows_total",
            "rows_done",
            "progress",
            "filename",
            "file_size",
            "download_url",
            "failure_reason",
            "created_at",
            "started_at",
            "finished_at",
            "expires_at",
        ]

    def get_download_url(self, obj) -> str | None:
        from django.urls import reverse

        return reverse("api-export-download", args=[obj.pk]) if obj.is_downloadable else None


class ImportInput(serializers.Serializer):
    file = serializers.FileField(help_text=".txt, .csv, .xls or .xlsx")
    consent_source = serializers.CharField()
    proof = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="How consent was obtained and where its proof is kept (or send proof_file).",
    )
    consent_obtained_at = serializers.DateTimeField(required=False)
    proof_file = serializers.FileField(
        required=False, help_text="A scan of the signed forms or consent request (PDF or image)."
    )
    column_map = serializers.JSONField(
        required=False,
        help_text='Column numbers from 0, e.g. {"email": 0, "name": 1, "last_name": 2, '
        '"attributes": {"city": 3}}; guessed from the header row when left out. "last_name" is '
        'joined to "name". "age_confirmed" is the yes/no column (yes, true, 1...) required by a '
        'list with adult content: its rows without a yes are refused ("Age not confirmed"). '
        'A status column ("status") or yes/no opt-out column ("opt_out") of '
        "the service the file was exported from is recognised and always read: the rows it "
        "marks as unsubscribed, bounced or complained are not subscribed but suppressed.",
    )

    def validate_consent_source(self, value: str) -> str:
        return _source_field(value)

    def validate_column_map(self, value):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except (ValueError, RecursionError) as exc:
                raise serializers.ValidationError("Not valid JSON.") from exc
        # A form field's JSON is parsed by DRF, not by the API's JSON parser that refuses these.
        if holds_lone_surrogate(value):
            raise serializers.ValidationError("Not valid JSON: a lone surrogate is not text.")
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be an object.")
        return value


class ImportErrorOutput(serializers.Serializer):
    row = serializers.IntegerField()
    email = serializers.CharField()
    reason = CodedTextField(help_text="Why, in the request's language.")
    skipped = serializers.BooleanField()
    suppressed = serializers.BooleanField(
        help_text="The file marks this row as opted out in the service it came from: not "
        "subscribed, and the address added to the account's suppressions."
    )


class ImportOutput(serializers.ModelSerializer):
    list = serializers.IntegerField(source="mailing_list_id", read_only=True)
    suppressed = serializers.IntegerField(
        read_only=True,
        help_text="Rows the file marks as unsubscribed, bounced or complained in the service it "
        "was exported from: not subscribed, their addresses added to the account's suppressions "
        "(not counted in `skipped`).",
    )
    progress = serializers.FloatField(read_only=True)
    total_rows_estimated = serializers.BooleanField(
        read_only=True,
        help_text="True while `total_rows` is an estimate from the file's size (the file is read "
        "once, as it is imported); false once every row was read and the count is exact.",
    )
    # Declared fields (the metaclass takes them off the class), not Serializer.errors.
    errors = serializers.SerializerMethodField()  # type: ignore[assignment]
    failure_reason = CodedTextField(
        read_only=True, help_text="Why the import failed, in the request's language."
    )
    error_report_url = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "list",
            "status",
            "original_filename",
            "file_format",
            "consent_source",
            "column_map",
            "total_rows",
            "total_rows_estimated",
            "processed",
            "imported",
            "updated",
            "skipped",
            "suppressed",
            "progress",
            "errors",
            "error_report_url",
            "failure_reason",
            "created_at",
            "started_at",
            "finished_at",
        ]

    ERRORS_SHOWN = 100

    def get_errors(self, obj) -> builtins.list[dict]:  # (`list` is a field of this class)
        """The first rows with issues; the full report is the CSV at error_report_url."""
        issues = obj.issues.all()[: self.ERRORS_SHOWN]
        return list(ImportErrorOutput(issues, many=True).data)

    def get_error_report_url(self, obj) -> str:
        from django.urls import reverse

        return reverse("api-import-errors", kwargs={"import_id": obj.pk})


class EraseInput(serializers.Serializer):
    email = serializers.CharField(max_length=320)


class ExportQuery(serializers.Serializer):
    email = serializers.CharField(max_length=320)


class BulkSubscriberInput(_SubscriberFields):
    """One item of a bulk upsert: the single add's fields (no double opt-in: like an import, the
    subscriber is added `subscribed` on the consent declared)."""

    age_confirmed = serializers.BooleanField(
        required=False,
        default=False,
        help_text="The person confirmed being 18 or older: an item without it (true) on a list "
        "with adult content is an error naming this field.",
    )


class BulkUpsertInput(serializers.Serializer):
    """The request's shape, for the schema: items are checked one by one by the service."""

    # With many=True these go to the ListSerializer, whose arguments the stubs do not follow.
    subscribers = BulkSubscriberInput(many=True, max_length=10_000, min_length=1)  # type: ignore[call-arg]


class BulkItemResult(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the item in the request, from 0.")
    email = serializers.CharField(help_text="The address normalised (as sent for an error).")
    status = serializers.ChoiceField(choices=["created", "updated", "skipped", "error"])
    id = serializers.IntegerField(required=False, help_text="The subscriber (created, updated).")
    reason = serializers.CharField(
        required=False, help_text="Why it was skipped: suppressed, left the list, a duplicate."
    )
    errors = serializers.DictField(  # type: ignore[assignment]  # a declared field
        required=False,
        help_text="Field errors of an invalid item, as the single add answers them "
        "(consent fields nested under `consent`).",
    )
    warning = serializers.CharField(
        required=False, help_text="Written, but flagged (role addresses such as info@)."
    )


class BulkUpsertOutput(serializers.Serializer):
    results = BulkItemResult(many=True)
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    skipped = serializers.IntegerField()
    errors = serializers.IntegerField()  # type: ignore[assignment]  # a declared field


class TagOutput(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    subscriber_count = serializers.IntegerField(
        read_only=True, help_text="Subscribers carrying it, on any of the account's lists."
    )


class TagsInput(serializers.Serializer):
    tags = serializers.ListField(
        child=serializers.CharField(max_length=64, allow_blank=False),
        min_length=1,
        max_length=50,
        help_text="Tag names (case-insensitive; new ones are created).",
    )


class BulkTagsInput(TagsInput):
    subscribers = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        min_length=1,
        max_length=10000,
        help_text="Ids of the account's subscribers, on any of its lists.",
    )
