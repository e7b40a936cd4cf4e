from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Account, ApiToken, SenderDomain
from accounts.selectors import sender_domain_records


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


class ApiTokenInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    read_only = serializers.BooleanField(default=False)


class ApiTokenOutput(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "read_only", "created_at", "last_used_at", "revoked_at"]


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


class SenderDomainOutput(serializers.ModelSerializer):
    txt_record = serializers.SerializerMethodField()
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
        return DnsRecordOutput(sender_domain_records(sender_domain=obj), many=True).data


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
