from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from campaigns.findings import Severity
from campaigns.models import MESSAGE_FIELDS, Campaign, CampaignTestSend, Segment
from campaigns.scheduling import schedule_local
from campaigns.selectors import finding_shown
from campaigns.states import CampaignStatus
from config.api import CodedTextField
from lists.models import MailingList


class WallTimeField(serializers.DateTimeField):
    """An ISO 8601 date and time kept as given: with an offset it is that instant; without
    one, a wall-clock time the service reads in `schedule_timezone` (not the server's zone)."""

    def enforce_timezone(self, value):
        return value


SCHEDULED_AT_HELP = (
    "When the probe should start (ISO 8601). With an offset (`Z`, `+02:00`) it is that "
    "instant; without one, a time in `schedule_timezone`, daylight saving included (a time the "
    "clocks skip is refused). Must be in the future, at most a year ahead; null: as soon as a "
    "moderator approves. The probe starts at this time or at approval, whichever is later."
)
SCHEDULE_TIMEZONE_HELP = (
    "The IANA time zone the schedule is chosen and shown in, e.g. `Europe/Berlin`; the "
    "current one, else UTC, when omitted."
)


class ScheduleFields(serializers.Serializer):
    scheduled_at = WallTimeField(required=False, allow_null=True, help_text=SCHEDULED_AT_HELP)
    schedule_timezone = serializers.CharField(
        required=False, allow_blank=True, max_length=64, help_text=SCHEDULE_TIMEZONE_HELP
    )


class ScheduleInput(serializers.Serializer):
    scheduled_at = WallTimeField(allow_null=True, help_text=SCHEDULED_AT_HELP)
    schedule_timezone = serializers.CharField(
        required=False, allow_blank=True, max_length=64, help_text=SCHEDULE_TIMEZONE_HELP
    )


class CampaignInput(ScheduleFields):
    name = serializers.CharField(max_length=200)
    lists = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        min_length=0,
        max_length=100,
        required=False,
        help_text="Ids of the account's lists, sent to whole; a subscriber on several gets one "
        "message. May be empty when `segments` names at least one segment.",
    )
    segments = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        max_length=100,
        required=False,
        help_text="Ids of the account's segments whose matches join the audience (each address "
        "once); submitting freezes their conditions with the version.",
    )
    subject = serializers.CharField(max_length=300, help_text="Merge tags allowed.")
    from_name = serializers.CharField(max_length=100)
    from_email = serializers.CharField(
        max_length=254,
        help_text="Any valid address for a draft and a test send to yourself (the test needs "
        "it on one of the account's sender domains); submitting needs that domain verified.",
    )
    reply_to = serializers.CharField(max_length=254, required=False, allow_blank=True)
    html_body = serializers.CharField(
        trim_whitespace=False,
        help_text="HTML; sanitised, CSS inlined. Merge tags such as {{ subscriber.name }} or "
        '{{ subscriber.attributes.city | default("there") }}.',
    )
    text_body = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="Plain text; generated from the HTML when empty.",
    )


class FindingOutput(serializers.Serializer):
    code = serializers.CharField()
    severity = serializers.ChoiceField(choices=[severity.value for severity in Severity])
    reason = serializers.CharField(help_text="The reason, in the request's language.")
    params = serializers.DictField(
        required=False,
        help_text="What the reason was made with (what was found, where), as stored; empty for "
        "findings stored before reasons were coded.",
    )
    where = serializers.CharField()
    excerpt = serializers.CharField()

    def to_representation(self, instance):
        # Stored as a code and parameters (config.coded_text): rendered for this request.
        return super().to_representation(finding_shown(instance))


class CampaignOutput(serializers.ModelSerializer):
    lists: serializers.PrimaryKeyRelatedField[MailingList] = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True
    )
    segments: serializers.PrimaryKeyRelatedField[Segment] = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True
    )
    status = serializers.ChoiceField(choices=CampaignStatus.choices, read_only=True)
    findings = FindingOutput(many=True, read_only=True)
    scheduled_at = serializers.SerializerMethodField(
        help_text="When the probe starts (or started: it is kept), in `schedule_timezone` "
        "with its offset; null: as soon as a moderator approves."
    )
    schedule_timezone = serializers.CharField(
        read_only=True, help_text="The IANA time zone the schedule was chosen in ('' if none)."
    )

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "lists",
            "segments",
            *MESSAGE_FIELDS,
            "status",
            "findings",
            "created_at",
            "updated_at",
            "submitted_at",
            "scheduled_at",
            "schedule_timezone",
        ]

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_scheduled_at(self, campaign: Campaign) -> str | None:
        local = schedule_local(campaign)
        return local.isoformat() if local else None


class CampaignFilter(serializers.Serializer):
    # `?status=` (empty) is the same as no filter, as a form with "any status" sends it.
    status = serializers.ChoiceField(
        choices=CampaignStatus.choices, required=False, allow_blank=True
    )


class RecipientChoice(serializers.Serializer):
    subscriber_id = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="A subscriber on the campaign's lists; a sample recipient when omitted.",
    )


class PreviewRecipientOutput(serializers.Serializer):
    email = serializers.CharField()
    name = serializers.CharField()
    subscriber_id = serializers.IntegerField(allow_null=True)
    is_sample = serializers.BooleanField()


class PreviewOutput(serializers.Serializer):
    subject = serializers.CharField()
    from_header = serializers.CharField()
    html = serializers.CharField()
    text = serializers.CharField()
    headers = serializers.DictField(child=serializers.CharField())
    recipient = PreviewRecipientOutput()


class TestSendOutput(serializers.ModelSerializer):
    class Meta:
        model = CampaignTestSend
        fields = ["id", "to_email", "message_id", "sent_at"]


class CancelInput(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class DeliveryFiguresOutput(serializers.Serializer):
    """Counts of recipients (see campaigns.stats for what each means)."""

    recipients = serializers.IntegerField(
        help_text="The whole send: recipients when the probe was chosen (subscribed, not "
        "suppressed, each address once), or the lists' subscribed addresses before that. The "
        "probe: its recipients."
    )
    probe_size = serializers.IntegerField(
        allow_null=True, help_text="Recipients chosen for the probe; null until it is chosen."
    )
    sent = serializers.IntegerField(help_text="Handed to the mail backend and accepted.")
    refused = serializers.IntegerField(
        help_text="Handed over and refused at once, the answer read as a bounce or a block "
        "(counted in hard_bounced, soft_bounced or blocked too)."
    )
    delivered = serializers.IntegerField(
        help_text="Sent and neither bounced nor blocked (a soft bounce the provider later "
        "delivered counts)."
    )
    opened = serializers.IntegerField(help_text="Opened by a person (a click counts as an open).")
    clicked = serializers.IntegerField(help_text="Clicked by a person.")
    hard_bounced = serializers.IntegerField(help_text="Refused at hand-over or reported later.")
    soft_bounced = serializers.IntegerField(help_text="Refused at hand-over or reported later.")
    blocked = serializers.IntegerField(
        help_text="A provider refused the content or the sender (a spam filter): never the "
        "recipient's fault, counted against the campaign."
    )
    unsubscribed = serializers.IntegerField()
    complained = serializers.IntegerField(help_text="Reported as spam.")
    failed = serializers.IntegerField(
        help_text="Not sent for good: the refused ones, and those the backend never answered."
    )
    pending = serializers.IntegerField(help_text="Not handed to the backend yet.")
    possibly_duplicated = serializers.IntegerField(
        help_text="Handed over as a worker died, then sent again: may have arrived twice."
    )
    machine_opened = serializers.IntegerField(
        help_text="Opened only by machines (privacy proxies, scanners); not engagement."
    )
    machine_clicked = serializers.IntegerField(
        help_text="Clicked only by machines (link scanners); not engagement."
    )


class RateIntervalsOutput(serializers.Serializer):
    complaint_rate = serializers.ListField(
        child=serializers.FloatField(), min_length=2, max_length=2
    )
    hard_bounce_rate = serializers.ListField(
        child=serializers.FloatField(), min_length=2, max_length=2
    )
    block_rate = serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2)
    unsubscribe_rate = serializers.ListField(
        child=serializers.FloatField(), min_length=2, max_length=2
    )


class RatesOutput(serializers.Serializer):
    """The probe's rates as the verdict reads them (fractions: 0.001 is 0.1%). Bounces, blocks
    and refusals are over the messages handed over (accepted or refused); complaints,
    unsubscribes, opens and clicks over those accepted; the inactive rate over the probe's
    recipients."""

    basis = serializers.ChoiceField(
        choices=["verdict", "live"],
        help_text="`verdict`: the figures the probe was judged on; `live`: as they stand now.",
    )
    complaint_rate = serializers.FloatField()
    hard_bounce_rate = serializers.FloatField()
    soft_bounce_rate = serializers.FloatField()
    block_rate = serializers.FloatField()
    refusal_rate = serializers.FloatField(help_text="Refused at hand-over.")
    unsubscribe_rate = serializers.FloatField()
    open_rate = serializers.FloatField()
    click_rate = serializers.FloatField()
    inactive_rate = serializers.FloatField(
        help_text="Probe recipients sent one of the account's last INACTIVE_CAMPAIGNS campaigns "
        "who opened or clicked none of them as a person. Shown, never judged."
    )
    intervals = RateIntervalsOutput(help_text="95% Wilson score intervals, [low, high].")


class InactiveOutput(serializers.Serializer):
    recipients = serializers.IntegerField(help_text="Probe recipients whose history was read.")
    inactive = serializers.IntegerField(
        help_text="Sent at least one of the earlier campaigns, engaged with none as a person."
    )
    first_time = serializers.IntegerField(help_text="Sent none of the earlier campaigns.")
    campaigns = serializers.IntegerField(
        help_text="Earlier campaigns looked at (at most INACTIVE_CAMPAIGNS)."
    )
    share = serializers.FloatField(help_text="inactive / recipients.")


class CampaignVerdictOutput(serializers.Serializer):
    tier = serializers.ChoiceField(choices=["green", "amber", "review"])
    flag_account = serializers.BooleanField()
    rule = serializers.CharField()
    reasons = serializers.ListField(
        child=CodedTextField(), help_text="Why, in the request's language."
    )
    rates = serializers.DictField(child=serializers.FloatField())
    intervals = serializers.DictField(child=serializers.ListField(child=serializers.FloatField()))
    inactive = InactiveOutput(
        required=False, help_text="The probe recipients' activity in the account's last campaigns."
    )


class TimelineBucketOutput(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    sent = serializers.IntegerField()
    opened = serializers.IntegerField(help_text="First opens by a person.")
    clicked = serializers.IntegerField(help_text="First clicks by a person.")
    bounced = serializers.IntegerField(
        help_text="Hard and soft bounces, refusals at hand-over included."
    )
    blocked = serializers.IntegerField(help_text="Provider blocks.")
    complained = serializers.IntegerField()


class ProviderShareOutput(serializers.Serializer):
    provider = serializers.CharField()
    recipients = serializers.IntegerField()
    probe = serializers.IntegerField(help_text="Its share of the probe.")


class CampaignStatsOutput(DeliveryFiguresOutput):
    probe = DeliveryFiguresOutput(help_text="The same figures for the probe alone.")
    rates = RatesOutput()
    verdict = CampaignVerdictOutput(
        allow_null=True, help_text="The probe's verdict once judged, else null."
    )
    hold_until = serializers.DateTimeField(
        allow_null=True, help_text="When the hold after the probe ends; null before it."
    )
    status = serializers.ChoiceField(choices=CampaignStatus.choices, help_text="The status.")
    timeline = TimelineBucketOutput(
        many=True,
        help_text="Buckets of a minute, an hour or a day (by how long the send has run) from "
        "the first message sent to the latest event (to now while the send is under way), "
        "empty ones included.",
    )
    providers = ProviderShareOutput(many=True, help_text="The probe plan's provider mix.")


# --- welcome messages (campaigns.welcome) --------------------------------------------------------


class WelcomeInput(serializers.Serializer):
    subject = serializers.CharField(max_length=300, help_text="Merge tags allowed.")
    from_name = serializers.CharField(max_length=100)
    from_email = serializers.CharField(
        max_length=254, help_text="Submitting needs it on one of the account's verified domains."
    )
    reply_to = serializers.CharField(max_length=254, required=False, allow_blank=True)
    html_body = serializers.CharField(
        trim_whitespace=False, help_text="HTML; sanitised, CSS inlined; merge tags allowed."
    )
    text_body = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="Plain text; generated from the HTML when empty.",
    )


class WelcomeLiveOutput(serializers.Serializer):
    campaign_id = serializers.IntegerField()
    version = serializers.IntegerField(help_text="The approved version's number.")
    subject = serializers.CharField(help_text="The approved version's subject, as written.")
    approved_at = serializers.DateTimeField()


class WelcomeStatsOutput(serializers.Serializer):
    sent = serializers.IntegerField()
    delivered = serializers.IntegerField()
    opened = serializers.IntegerField()
    clicked = serializers.IntegerField()
    unsubscribed = serializers.IntegerField()
    complained = serializers.IntegerField()
    hard_bounced = serializers.IntegerField()
    skipped = serializers.IntegerField(
        help_text="Not sent: suppressed, unsubscribed, or the account could not send."
    )
    pending = serializers.IntegerField()


class WelcomeOutput(serializers.Serializer):
    list = serializers.IntegerField(help_text="The list's id.")
    campaign_id = serializers.IntegerField(
        help_text="The campaign (kind `welcome`) being edited or moderated."
    )
    status = serializers.ChoiceField(
        choices=CampaignStatus.choices,
        help_text="Of that campaign: draft, submitted, rejected, approved (or declined, "
        "cancelled). An approved welcome edited again is a new draft.",
    )
    subject = serializers.CharField()
    from_name = serializers.CharField()
    from_email = serializers.CharField()
    reply_to = serializers.CharField(allow_blank=True)
    html_body = serializers.CharField()
    text_body = serializers.CharField(allow_blank=True)
    findings = FindingOutput(many=True)
    moderation_note = serializers.CharField(allow_blank=True)
    submitted_at = serializers.DateTimeField(allow_null=True)
    live = WelcomeLiveOutput(
        allow_null=True,
        help_text="The approved version new subscribers get now; null before any approval.",
    )
    is_sending = serializers.BooleanField(
        help_text="Whether new subscribers get it now (approved, and the account may send)."
    )
    stats = WelcomeStatsOutput(help_text="Over every version this welcome has sent.")
    updated_at = serializers.DateTimeField()
