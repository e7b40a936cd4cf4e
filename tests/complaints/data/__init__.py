"""Real-format reports (DSN, ARF, JMRP, plain-text bounces, mailto: unsubscribes) as templates:
`render` fills in the signed references of a real message, so matching is tested for real."""

import base64
import mailbox
from pathlib import Path

from django.conf import settings

from campaigns.tokens import MessageTokens

DATA = Path(__file__).parent
SENDER_DOMAIN = "news.acme.example"


def render(name: str, *, tokens: MessageTokens, recipient: str, ref: str | None = None) -> bytes:
    """The report `name`.eml about the message `tokens` names (sent to `recipient`), with CRLF
    line ends as it comes off the wire; `ref` overrides its message reference (a forgery)."""
    ref = ref or tokens.message_ref()
    values = {
        "@@REF@@": ref,
        "@@REF_LOWER@@": ref.lower(),
        "@@UNSUBSCRIBE_TOKEN@@": tokens.unsubscribe(),
        "@@RECIPIENT@@": recipient,
        "@@BOUNCE_DOMAIN@@": settings.BOUNCE_DOMAIN,
        "@@SENDER_DOMAIN@@": SENDER_DOMAIN,
        "@@FEEDBACK_ID@@": f"{tokens.campaign_id}:1:campaign:{settings.FEEDBACK_ID_SENDER}",
    }
    text = (DATA / f"{name}.eml").read_text()
    if "@@ORIGINAL_BASE64@@" in text:
        original = render("arf_microsoft_original", tokens=tokens, recipient=recipient, ref=ref)
        text = text.replace("@@ORIGINAL_BASE64@@", base64.encodebytes(original).decode())
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


def forged_ref(tokens: MessageTokens) -> str:
    """The message's reference with its signature broken (the last character changed)."""
    ref = tokens.message_ref()
    return ref[:-1] + ("A" if ref[-1] != "A" else "B")


def write_mbox(path: Path, messages: list[bytes]) -> Path:
    box = mailbox.mbox(path)
    for raw in messages:
        box.add(raw)
    box.flush()
    box.close()
    return path


def write_maildir(path: Path, messages: list[bytes]) -> Path:
    box = mailbox.Maildir(path, create=True)
    for raw in messages:
        box.add(raw)
    box.close()
    return path
