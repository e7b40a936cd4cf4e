"""Which consent sources the policy accepts (rule 1), and recording consent history."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from config.errors import ApplicationError
from lists.models import (
    ConsentEvent,
    ConsentRecord,
    ConsentSource,
    ImportJob,
    MailingList,
    Subscriber,
)

# Sources the policy refuses, by the words people use for them, with the reason shown.
_FORBIDDEN = [
    (
        ("purchased", "bought", "buy", "paid"),
        gettext_lazy(
            "Purchased lists are not accepted: the people on them never asked you for mail."
        ),
    ),
    (
        ("leased", "rented", "rent", "lease"),
        gettext_lazy(
            "Leased or rented lists are not accepted: the people on them never asked you for mail."
        ),
    ),
    (
        ("third_party", "partner", "shared", "affiliate", "co_registration", "coregistration"),
        gettext_lazy(
            "Third-party lists are not accepted: consent given to someone else is not consent "
            "to you."
        ),
    ),
    (
        ("open_sources", "open_source", "public", "scraped", "web_scraping", "harvested", "found"),
        gettext_lazy(
            "Addresses from open sources (websites, directories, scraping) are not accepted: "
            "publishing an address is not consent."
        ),
    ),
    (
        ("verbal", "phone", "telephone", "oral", "call", "phone_call"),
        gettext_lazy(
            "Verbal or phone consent is not accepted: it leaves no proof. Ask for a written "
            "confirmation (paper_form) or send a consent request (client_reconfirmed)."
        ),
    ),
]
_ALLOWED_LIST = ", ".join(ConsentSource.values)


def _key(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", value.strip().lower()).strip("_")


def consent_source_check(source: str, *, field: str = "source") -> ConsentSource:
    """Return the allowed source, or refuse (ApplicationError naming `field`) with the reason the
    policy gives for a forbidden one, or the list of allowed ones for anything else."""
    key = _key(source or "")
    if key in ConsentSource.values:
        return ConsentSource(key)
    words = set(key.split("_")) | {key}
    for names, reason in _FORBIDDEN:
        if words & set(names):
            raise ApplicationError(str(reason), field=field)
    raise ApplicationError(
        _("Unknown consent source %(source)s. Allowed sources: %(allowed)s.")
        % {"source": repr(source), "allowed": _ALLOWED_LIST},
        field=field,
    )


# A scan or photo of a signed form, or a saved consent e-mail: checked by content, not by name.
PROOF_FILE_TYPES = {
    b"%PDF-": "pdf",
    b"\x89PNG\r\n\x1a\n": "png",
    b"\xff\xd8\xff": "jpg",
    b"GIF87a": "gif",
    b"GIF89a": "gif",
}


def consent_proof_file_check(
    upload: UploadedFile | None, *, field: str = "proof_file"
) -> str | None:
    """Refuse a proof file that is too big or not a PDF, PNG, JPEG or GIF (by its first bytes);
    return the file type found ("pdf", "png", ...)."""
    if upload is None:
        return None
    limit = settings.CONSENT_PROOF_MAX_BYTES
    size = upload.size or 0  # (an upload always has its size)
    if size > limit:
        raise ApplicationError(
            _("The proof file is %(size)s; the limit is %(limit)s.")
            % {"size": filesizeformat(size), "limit": filesizeformat(limit)},
            field=field,
        )
    upload.seek(0)
    head = upload.read(8)
    upload.seek(0)
    for magic, kind in PROOF_FILE_TYPES.items():
        if head.startswith(magic):
            return kind
    raise ApplicationError(
        _("The proof file must be a PDF, PNG, JPEG or GIF (a scan, photo or saved e-mail)."),
        field=field,
    )


def proof_file_name(upload: UploadedFile) -> str:
    """The stored name of a checked proof file: the upload's name with the extension of what
    the file really is, so it is always served as that type."""
    kind = consent_proof_file_check(upload)
    stem = upload_name(upload.name, default="proof").rsplit(".", 1)[0][:80] or "proof"
    return f"{stem}.{kind}"


def consent_proof_check(
    *,
    source: str,
    proof: str,
    ip: str | None,
    proof_file: UploadedFile | None = None,
    field: str = "proof",
) -> None:
    """Consent must be provable: forms prove it by the signer's IP or proof, the rest by a
    description of the proof or a file of it."""
    consent_proof_file_check(proof_file)
    if (proof or "").strip() or proof_file is not None:
        return
    if source in (ConsentSource.WEB_FORM, ConsentSource.FORM_CHECKBOX) and ip:
        return
    raise ApplicationError(
        _(
            "Describe the proof of consent (for example where the signed form is kept, or the "
            "consent request and its answer)."
        ),
        field=field,
    )


def consent_record_add(
    *,
    subscriber: Subscriber,
    event: ConsentEvent,
    source: str = "",
    obtained_at: datetime | None = None,
    ip: str | None = None,
    user_agent: str = "",
    purpose_text: str = "",
    form_url: str = "",
    proof: str = "",
    proof_file: UploadedFile | None = None,
    recorded_by: User | None = None,
    import_job: ImportJob | None = None,
) -> ConsentRecord:
    """Append one entry to the subscriber's consent history (never rewrites older ones)."""
    record = ConsentRecord(
        subscriber=subscriber,
        event=event,
        source=source,
        obtained_at=obtained_at or timezone.now(),
        ip=ip or None,
        user_agent=(user_agent or "")[:500],
        purpose_text=purpose_text,
        form_url=(form_url or "")[:500],
        proof=proof or "",
        recorded_by=recorded_by,
        import_job=import_job,
    )
    if proof_file is not None:
        record.proof_file.save(proof_file_name(proof_file), proof_file, save=False)
    record.save()
    return record


def upload_name(name: str | None, *, default: str = "upload") -> str:
    """An upload's name without any path (browsers may send one), short enough to store."""
    return (name or "").replace("\\", "/").rsplit("/", 1)[-1][-100:] or default


# --- what the subscription form tells the person (informed consent, rule 2) -----------------


@dataclass(frozen=True)
class FormNotice:
    """Every sentence the hosted and embedded form show around their fields, in the active
    language. The templates render these very strings and the consent record stores `text()`,
    so what is kept is what the person read."""

    purpose: str
    intro: str
    sender: str
    rights: str
    storage: str
    # The sentence about the privacy policy: its link, or a notice that there is none yet.
    privacy: str
    privacy_url: str
    age: str  # the age checkbox's label; empty unless the list has adult content
    agreement: str  # the consent checkbox's label
    confirm: str  # what happens next on a double opt-in list; empty otherwise

    def text(self, *, ticked_age: bool = True) -> str:
        """The notice as one text, the ticked checkboxes' labels included."""
        parts = [self.purpose, self.intro, self.sender, self.rights, self.storage, self.privacy]
        if self.age and ticked_age:
            parts.append(f"[x] {self.age}")
        parts.append(f"[x] {self.agreement}")
        parts.append(self.confirm)
        return "\n".join(part for part in parts if part)


def form_notice(mailing_list: MailingList) -> FormNotice:
    """The form's notice for `mailing_list`: purpose, the sender's identity (company name and
    postal address), the person's rights, how the address is stored and used, the privacy
    policy link (or the notice that the sender has not given one yet) and the checkbox labels."""
    account = mailing_list.account
    company = account.company_name
    address = ", ".join(
        line.strip().rstrip(",")
        for line in (account.postal_address or "").splitlines()
        if line.strip()
    )
    names = {"company": company, "list": mailing_list.name}
    url = mailing_list.privacy_policy_url
    if url:
        privacy = _("Privacy policy of %(company)s: %(url)s") % {**names, "url": url}
    else:
        privacy = (
            _(
                "%(company)s has not yet given a link to its privacy policy for this list; "
                "ask them for it before you subscribe."
            )
            % names
        )
    return FormNotice(
        purpose=_("What you will receive: %(purpose)s") % {"purpose": mailing_list.purpose},
        intro=mailing_list.form_intro.strip(),
        sender=(
            _("Sender: %(company)s, %(address)s.") % {**names, "address": address}
            if address
            else _("Sender: %(company)s.") % names
        ),
        rights=_(
            "You can withdraw your consent at any time with the unsubscribe link in every "
            "message, and ask %(company)s for access to your data or for its erasure."
        )
        % names,
        storage=_(
            "%(company)s stores your e-mail address and the details you give here, and uses "
            "them for automated bulk mailing of “%(list)s”."
        )
        % names,
        privacy=privacy,
        privacy_url=url,
        age=str(_("I confirm I am 18 or older.")) if mailing_list.adult_content else "",
        agreement=_("I agree to receive “%(list)s” from %(company)s.") % names,
        confirm=_("We will e-mail you a link to confirm.") if mailing_list.double_opt_in else "",
    )


# --- adult lists: the age confirmation every way in records ---------------------------------

# Stored in the consent record's proof, in English whatever the page's language: evidence is
# searched for, and is the same sentence for every way a subscriber comes in.
AGE_CONFIRMED_PROOF = "Age confirmed: 18 or older ({how})."


class AgeConfirmedBy:
    """How an age confirmation was given, as the proof line names it."""

    FORM = "the person ticked the age box on the subscription form"
    IMPORT = "the import's age_confirmed column says yes"
    API = "the API request's age_confirmed field is true"
    BROWSER = "the sender ticked the age box when adding the subscriber"
    CONSENT_REQUEST = "the person ticked the age box when answering a consent request"


def age_confirmation_check(
    *, mailing_list: MailingList, age_confirmed: bool, field: str = "age_confirmed"
) -> None:
    """Refuse (ApplicationError naming `field`) adding someone to an adult-content list without
    an age confirmation; nothing for other lists."""
    if mailing_list.adult_content and not age_confirmed:
        raise ApplicationError(
            _(
                "This list has adult content: confirm that the person is 18 or older "
                "(age_confirmed)."
            ),
            field=field,
        )


def proof_with_age_confirmation(*, mailing_list: MailingList, proof: str, how: str) -> str:
    """The proof text to store: `proof`, plus the age confirmation line on an adult list."""
    if not mailing_list.adult_content:
        return proof or ""
    line = AGE_CONFIRMED_PROOF.format(how=how)
    return f"{proof}\n{line}" if (proof or "").strip() else line
