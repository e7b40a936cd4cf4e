from django import forms
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.forms import ProfileForm
from accounts.models import Account, ApiToken, SenderDomain
from accounts.selectors import sender_domain_records
from config.coded_text import render


class TokenObtainInput(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(trim_whitespace=False, style={"input_type": "password"})


class TokenObtainOutput(serializers.Serializer):
    token = serializers.CharField()


class AccountOutput(serializers.ModelSerializer):
    class Meta:
        model = Account
        fields = [
            "id",
            "company_name",
            "contact_name",
            "phone",
            "postal_address",
            "website",
            "state",
            "created_at",
        ]


_PROFILE_FIELDS = ProfileForm.base_fields


def _profile_max_length(name: str) -> int | None:
    field = _PROFILE_FIELDS[name]
    assert isinstance(field, forms.CharField)
    return field.max_length


class AccountProfileInput(serializers.Serializer):
    """PATCH /account/: any of the company profile's fields. The rules are the profile page's
    (accounts.forms.ProfileForm, then accounts.services.account_profile_update): the form
    validates the account's values with these applied, so the page and the API cannot differ."""

    company_name = serializers.CharField(
        required=False, allow_blank=True, max_length=_profile_max_length("company_name")
    )
    contact_name = serializers.CharField(
        required=False, allow_blank=True, max_length=_profile_max_length("contact_name")
    )
    phone = serializers.CharField(
        required=False, allow_blank=True, max_length=_profile_max_length("phone")
    )
    postal_address = serializers.CharField(required=False, allow_blank=True)
    website = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="An http(s) address; one without a scheme gets https://. Blank removes it.",
    )

    def validate(self, attrs: dict) -> dict:
        account = self.context["account"]
        values = {name: getattr(account, name) for name in _PROFILE_FIELDS} | attrs
        form = ProfileForm(data=values)
        if not form.is_valid():
            raise serializers.ValidationError(
                {name: [str(m) for m in errors] for name, errors in form.errors.items()}
            )
        return form.cleaned_data


class ApiTokenInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    # A declared field: the serializer's metaclass takes it off the class, so it never meets
    # Field.read_only (the flag the stubs see it replace).
    read_only = serializers.BooleanField(default=False)  # type: ignore[assignment]


class ApiTokenOutput(serializers.ModelSerializer):
    role = serializers.ChoiceField(
        choices=["owner", "editor", "viewer"],
        read_only=True,
        help_text="Its creator's role when it was made; it never acts above the creator's "
        "role now (a read-only token acts as a viewer).",
    )

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "prefix",
            "read_only",
            "role",
            "created_at",
            "last_used_at",
            "revoked_at",
        ]


class ApiTokenCreatedOutput(ApiTokenOutput):
    token = serializers.CharField(help_text="The key; shown only in this response.")

    class Meta(ApiTokenOutput.Meta):
        fields = [*ApiTokenOutput.Meta.fields, "token"]


class SenderDomainInput(serializers.Serializer):
    domain = serializers.CharField(max_length=253)
    dkim_selector = serializers.CharField(
        max_length=63, required=False, allow_blank=True, default=""
    )


class DnsRecordOutput(serializers.Serializer):
    key = serializers.ChoiceField(
        choices=["ownership", "dkim", "dkim_next", "dkim_retired", "spf", "dmarc"]
    )
    type = serializers.CharField()
    name = serializers.CharField()
    value = serializers.CharField(help_text="What to publish (SPF: yours with our include).")
    status = serializers.ChoiceField(
        choices=["found", "wrong", "missing", "unchecked"],
        help_text="The last check: found, wrong (see `seen`), missing, or not checked yet.",
    )
    seen = serializers.ListField(child=serializers.CharField(), help_text="What DNS answered.")
    messages = serializers.ListField(child=serializers.CharField())


class FindingsField(serializers.JSONField):
    """The last DNS check as stored, each check's `messages` in the request's language (they
    are stored as codes: accounts.dns)."""

    def to_representation(self, value):
        shown = {}
        for name, check in (value or {}).items():
            if isinstance(check, dict) and "messages" in check:
                check = {**check, "messages": [render(m) for m in check["messages"]]}
            shown[name] = check
        return shown


class SenderDomainOutput(serializers.ModelSerializer):
    txt_record = serializers.SerializerMethodField()
    findings = FindingsField(read_only=True)
    verified = serializers.BooleanField(source="is_verified")
    records = serializers.SerializerMethodField(
        help_text="Every record to publish for this domain, with its last check."
    )

    class Meta:
        model = SenderDomain
        fields = [
            "id",
            "domain",
            "verified",
            "verified_at",
            "txt_record",
            "dkim_selector",
            "last_checked_at",
            "findings",
            "records",
            "created_at",
        ]

    def get_txt_record(self, obj: SenderDomain) -> dict:
        return {"type": "TXT", "name": obj.domain, "value": obj.txt_record_value}

    @extend_schema_field(DnsRecordOutput(many=True))
    def get_records(self, obj: SenderDomain) -> list[dict]:
        return list(DnsRecordOutput(sender_domain_records(sender_domain=obj), many=True).data)


class TermsStatusOutput(serializers.Serializer):
    """The current terms and privacy versions, the ones the user last accepted, and what is due."""

    terms_version = serializers.CharField(help_text="The current terms of service version.")
    privacy_version = serializers.CharField(help_text="The current privacy policy version.")
    accepted_terms_version = serializers.CharField(
        allow_blank=True, help_text="The terms version the user last accepted (blank: none)."
    )
    accepted_privacy_version = serializers.CharField(
        allow_blank=True, help_text="The privacy version the user last accepted (blank: none)."
    )
    accepted_at = serializers.DateTimeField(
        allow_null=True, help_text="When the user last accepted."
    )
    due = serializers.ListField(
        child=serializers.CharField(),
        help_text='Documents to accept before sending: "terms", "privacy" or none.',
    )
