"""Headers are built, never concatenated (issue 17, findings 3 and 4, and its fuzzing check).

Random hostile text (controls, quotes, angle brackets, commas, encoded-word lookalikes, long and
non-ASCII names) in every header field and merge value, taken as if already in the database
(past validation), goes through compile, render and the MIME writer; the bytes must parse with
`email` to exactly one From naming exactly the approved address, no header but the expected ones,
each header one logical line, body parts that decode to what was rendered, and no bare CR or LF.
The validator that guards those fields on input refuses exactly the values that hold a control
character, a line separator or an encoded word, on the API (400 naming the field) and the forms.
"""

import email
import email.policy
import re
from datetime import date

import pytest
from django.core import mail
from django.core.mail.message import sanitize_address
from django.utils import timezone
from hypothesis import assume, given
from hypothesis import strategies as st

from accounts.addresses import InvalidAddress, normalise_address
from campaigns.mail import email_message
from campaigns.mime import envelope_sender, raw_message
from campaigns.models import Campaign
from campaigns.rendering import CampaignContent, Recipient, compile_campaign
from config.errors import ApplicationError
from config.text import CONTROL_CHARACTERS, ENCODED_WORD, clean_header_text, one_line
from lists.models import MailingList, SubscriberStatus
from lists.services.optin import subscriber_send_confirmation
from tests.factories import AccountFactory, SenderDomainFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory
from tests.security.conftest import FUZZ, FUZZ_VIEWS

APPROVED = "news@news.acme.example"
SERVICE = "no-reply@consentmail.localhost"

FRAGMENTS = [
    '"',
    "'",
    "<",
    ">",
    ",",
    ";",
    ":",
    "@",
    "(",
    ")",
    "\\",
    "[",
    "]",
    " ",
    "\t",
    "\r",
    "\n",
    "\r\n",
    "\r.\r\n",
    "\n.\n",
    "\r\n.\r",
    "\x00",
    "\x0b",
    "\x1b",
    "\x7f",
    "\x85",
    "\x9f",
    "\u2028",
    "\u2029",
    "\u00a0",
    "\ufeff",
    "PayPal <service@paypal.com>",
    "service@paypal.com",
    '"PayPal" <service@paypal.com>, ',
    "Bcc: victim@example.org",
    "\r\nBcc: victim@example.org",
    "=?utf-8?b?UGF5UGFsIDxzZXJ2aWNlQHBheXBhbC5jb20+?=",
    "=?utf-8?q?PayPal=0D=0ABcc:_x?=",
    "=?",
    "?=",
    "Café",
    "Зимнее меню",
    "東京",
    "😀",
    "x" * 120,
    "Ж" * 60,
]
hostile_text = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(st.characters(codec="utf-8"), max_size=12)),
    max_size=12,
).map("".join)
# Fixed template text may not hold merge-tag syntax (that is the compiler's business, tested
# elsewhere); merge values may hold anything.
template_text = hostile_text.map(lambda text: text.replace("{", "(").replace("}", ")"))
reply_to = st.sampled_from(["", "help@acme.example", "o'neil+x@support.acme.example"])

EXPECTED_HEADERS = {
    "From",
    "To",
    "Subject",
    "Date",
    "MIME-Version",
    "Content-Type",
}
# A header's first line; the policy may fold a long From right after the colon.
HEADER_LINE = re.compile(rb"[!-9;-~]+:( |$)")


def _rendered(
    *, from_name, subject, company_name, list_name, name, note, reply_to="", postal="1 Mill Lane"
):
    content = CampaignContent(
        campaign_id=7,
        account_id=3,
        subject=subject + " {{ subscriber.name }} {{ subscriber.attributes.note }}",
        from_name=from_name,
        from_email=APPROVED,
        reply_to=reply_to,
        html_body="<p>Hi {{ subscriber.name }}, {{ subscriber.attributes.note }}</p>",
        text_body="Hello {{ subscriber.name }}\n{{ subscriber.attributes.note }}\n",
        company_name=company_name,
        postal_address=postal,
    )
    recipient = Recipient(
        subscriber_id=11,
        email="ann@example.org",
        name=name,
        phone="",
        attributes={"note": note},
        list_id=5,
        list_name=list_name,
        consent_source="web_form",
        consented_at=date(2025, 1, 2),
    )
    return compile_campaign(content).render(recipient)


def _body_text(value: str) -> str:
    """A part's text as the reader gets it: every line end one LF, no NUL."""
    return re.sub(r"\r\n|\r", "\n", value).replace("\x00", "")


@FUZZ
@given(
    from_name=hostile_text,
    subject=template_text,
    company_name=hostile_text,
    list_name=hostile_text,
    name=hostile_text,
    note=hostile_text,
    reply_to=reply_to,
    eight_bit=st.booleans(),
)
def test_any_field_or_merge_value_makes_one_clean_message_from_the_approved_address(
    from_name, subject, company_name, list_name, name, note, reply_to, eight_bit
):
    rendered = _rendered(
        from_name=from_name,
        subject=subject,
        company_name=company_name,
        list_name=list_name,
        name=name,
        note=note,
        reply_to=reply_to,
    )

    raw = raw_message(rendered, eight_bit=eight_bit)

    # Every line ends in CRLF: no bare CR or LF for a lax relay to read as a line end.
    assert raw.count(b"\r") == raw.count(b"\n") == raw.count(b"\r\n")
    head = raw.partition(b"\r\n\r\n")[0]
    names = []
    for line in head.split(b"\r\n"):
        assert len(line) <= 998
        assert line.isascii()
        if line[:1] in (b" ", b"\t"):
            continue  # a folded continuation of the header above
        assert HEADER_LINE.match(line), line
        names.append(line.partition(b":")[0].decode())
    expected = EXPECTED_HEADERS | set(rendered.headers) | ({"Reply-To"} if reply_to else set())
    assert sorted(names) == sorted(expected)

    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert not message.defects
    assert len(message.get_all("From")) == 1
    (sender,) = message["From"].addresses
    assert sender.addr_spec == APPROVED
    # Python 3.11 adds a space between adjacent encoded words, which RFC 2047 readers drop.
    assert sender.display_name.replace(" ", "") == one_line(from_name).replace(" ", "")
    assert [a.addr_spec for a in message["To"].addresses] == ["ann@example.org"]
    if reply_to:
        assert [a.addr_spec for a in message["Reply-To"].addresses] == [reply_to]
    assert message["Subject"] == one_line(rendered.subject)
    phrase, _, list_id = rendered.headers["List-Id"].rpartition(" <")
    assert str(message["List-Id"]).endswith(f"<{list_id}")
    assert one_line(str(message["List-Id"]).rpartition("<")[0]) == one_line(phrase)
    for part, rendered_text in (("plain", rendered.text), ("html", rendered.html)):
        content = message.get_body((part,)).get_content()
        assert _body_text(content) == _body_text(rendered_text)
    assert envelope_sender(rendered) in (APPROVED, rendered.return_path)

    # The Django message (ESP backends, test sends) names the same one address.
    django = email.message_from_bytes(
        email_message(rendered).message().as_bytes(), policy=email.policy.default
    )
    (sender,) = django["From"].addresses
    assert sender.addr_spec == APPROVED


@FUZZ
@given(value=hostile_text, field=st.sampled_from(["from_name", "subject", "company_name", "name"]))
def test_the_validator_refuses_exactly_controls_separators_and_encoded_words(value, field):
    dangerous = CONTROL_CHARACTERS.search(value) or ENCODED_WORD.search(value)
    if dangerous:
        with pytest.raises(ApplicationError) as refused:
            clean_header_text(value, field=field)
        assert refused.value.field == field
        return
    cleaned = clean_header_text(value, field=field)
    assert cleaned == value.replace("\t", " ")
    assert not re.search("[\x00-\x1f\x7f-\x9f\u2028\u2029]", cleaned)
    assert cleaned == " ".join(cleaned.split(" "))  # nothing else changed


@FUZZ_VIEWS
@given(company_name=hostile_text, list_name=hostile_text)
@pytest.mark.django_db
def test_the_opt_in_email_is_from_our_address_whatever_the_names_hold(company_name, list_name):
    """Finding 4 under fuzzing: names as stored, past validation (PostgreSQL keeps no NUL)."""
    mail.outbox = []
    account = AccountFactory(company_name=company_name.replace("\x00", "")[:200])
    subscriber = SubscriberFactory(
        mailing_list=MailingListFactory(account=account, name=list_name.replace("\x00", "")[:200]),
        email="reader@example.org",
        status=SubscriberStatus.UNCONFIRMED,
    )

    subscriber_send_confirmation(subscriber_id=subscriber.pk)

    (sent,) = mail.outbox
    parsed = email.message_from_bytes(sent.message().as_bytes(), policy=email.policy.default)
    assert len(parsed.get_all("From")) == 1
    (sender,) = parsed["From"].addresses
    assert sender.addr_spec == SERVICE
    assert sanitize_address(sent.from_email, "utf-8").endswith(f"<{SERVICE}>") or (
        sanitize_address(sent.from_email, "utf-8") == SERVICE
    )
    assert [a.addr_spec for a in parsed["To"].addresses] == ["reader@example.org"]
    assert parsed.get_all("Bcc") is None and parsed.get_all("Cc") is None


@FUZZ
@given(address=hostile_text)
def test_a_reply_to_address_is_either_refused_or_one_address(address):
    try:
        normalised = normalise_address(address)
    except InvalidAddress:
        return
    assume(normalised.isascii())
    rendered = _rendered(
        from_name="Acme",
        subject="Hi",
        company_name="Acme",
        list_name="News",
        name="Ann",
        note="",
        reply_to=normalised,
    )
    message = email.message_from_bytes(raw_message(rendered), policy=email.policy.default)
    assert [a.addr_spec for a in message["Reply-To"].addresses] == [normalised]


# Finding 3 and the fields' errors on the API and the forms.


@pytest.fixture
def sender(user):
    SenderDomainFactory(
        account=user.account, domain="news.acme.example", verified_at=timezone.now()
    )
    return user


@pytest.fixture
def campaign_fields(sender):
    mailing_list = MailingListFactory(account=sender.account, name="Monthly news")
    return {
        "name": "November news",
        "lists": [mailing_list.pk],
        "subject": "Hello",
        "from_name": "Acme News",
        "from_email": APPROVED,
        "reply_to": "",
        "html_body": "<p>Hi</p>",
        "text_body": "",
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("from_name", "PayPal\r <service@paypal.com>", "U+000D"),
        ("from_name", "PayPal\u2028<service@paypal.com>", "U+2028"),
        ("subject", "Hi\x85there", "U+0085"),
        ("subject", "Hi\x1b[31m", "U+001B"),
        ("name", "November\x0bnews", "U+000B"),
    ],
)
def test_the_api_refuses_a_control_character_naming_the_field(
    token_client, campaign_fields, field, value, code
):
    campaign_fields[field] = value

    response = token_client.post("/api/v1/campaigns/", campaign_fields, format="json")

    assert response.status_code == 400
    assert response.json() == {
        field: [
            "Use a single line of plain text: this contains a line break or a control "
            f"character ({code})."
        ]
    }
    assert not Campaign.objects.exists()


@pytest.mark.django_db
def test_the_api_refuses_an_encoded_word_in_a_from_name(token_client, campaign_fields):
    campaign_fields["from_name"] = "=?utf-8?b?UGF5UGFs?="

    response = token_client.post("/api/v1/campaigns/", campaign_fields, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["from_name"]
    assert not Campaign.objects.exists()


@pytest.mark.django_db
def test_a_tab_in_a_from_name_becomes_a_space(token_client, campaign_fields):
    campaign_fields["from_name"] = "Acme\tNews"

    response = token_client.post("/api/v1/campaigns/", campaign_fields, format="json")

    assert response.status_code == 201
    assert Campaign.objects.get().from_name == "Acme News"


@pytest.mark.django_db
def test_the_api_refuses_a_list_name_with_a_line_break(token_client):
    response = token_client.post(
        "/api/v1/lists/",
        {
            "name": "News\r\nBcc: victim@example.org",
            "purpose": "Monthly news.",
            "privacy_policy_url": "https://example.org/privacy",
        },
        format="json",
    )

    assert response.status_code == 400
    assert list(response.json()) == ["name"]
    assert "(U+000D)" in response.json()["name"][0]
    assert not MailingList.objects.exists()


@pytest.mark.django_db
def test_the_list_form_shows_the_error_on_the_name(client, user):
    client.force_login(user)

    page = client.post(
        "/lists/new/",
        {
            "name": "News\x00x",
            "purpose": "Monthly news.",
            "privacy_policy_url": "https://example.org/privacy",
        },
    )

    assert page.status_code == 200
    assert not MailingList.objects.exists()


@pytest.mark.django_db
def test_the_list_form_names_the_separator(client, user):
    client.force_login(user)

    page = client.post(
        "/lists/new/",
        {
            "name": "News\u2029Bcc: x",
            "purpose": "Monthly news.",
            "privacy_policy_url": "https://example.org/privacy",
        },
    )

    assert page.status_code == 200
    assert "(U+2029)" in page.text
    assert not MailingList.objects.exists()


@pytest.mark.django_db
def test_the_campaign_editor_shows_the_error_on_the_from_name(client, user, campaign_fields):
    client.force_login(user)

    page = client.post(
        "/campaigns/new/", {**campaign_fields, "from_name": "PayPal\r <service@paypal.com>"}
    )

    assert page.status_code == 200
    assert "(U+000D)" in page.text
    assert not Campaign.objects.exists()
