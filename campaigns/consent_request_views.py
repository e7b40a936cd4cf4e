"""Browser pages of consent requests (campaigns.consent_requests): from a list's page, upload
existing clients, see how many became candidates and which rows were refused, and submit the
request, which then goes through moderation and the staged send like any campaign."""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from accounts.http import SenderRequest
from accounts.views import account_required
from campaigns import consent_requests
from campaigns.models import CandidateStatus, ConsentCandidate
from config.browser_errors import show_errors
from lists.models import MailingList


def _verified_domains(account) -> list[str]:
    return list(account.sender_domains.exclude(verified_at=None).values_list("domain", flat=True))


def _upload(request: SenderRequest, campaign_id: int, upload) -> consent_requests.CandidateUpload:
    """Write the uploaded file where the parsers can read it, and read it into candidates."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "upload"
        with path.open("wb") as handle:
            for chunk in upload.chunks():
                handle.write(chunk)
        return consent_requests.consent_candidates_upload(
            account=request.user.account,
            campaign_id=campaign_id,
            path=path,
            filename=upload.name or "upload.csv",
        )


@account_required
def consent_request_new(request: SenderRequest, list_id: int) -> HttpResponse:
    """Ask a list's existing clients for consent: the sender, an intro line and the file."""
    account = request.user.account
    mailing_list = MailingList.objects.filter(account=account, pk=list_id).first()
    if mailing_list is None:
        raise Http404
    values = {
        "from_name": account.company_name,
        "from_email": "",
        "intro": "",
    }
    error = ""
    if request.method == "POST":
        values = {name: request.POST.get(name, "").strip() for name in values}
        upload = request.FILES.get("file")
        if upload is None:
            error = _("Choose a file of your existing clients.")
        else:
            # The page shows the error beside the upload it refused, not as a flash message.
            with show_errors() as shown:
                with transaction.atomic():  # a file that cannot be read leaves no draft
                    campaign, report = _create_and_upload(request, mailing_list, values, upload)
                return _detail(request, campaign, report)
            error = shown.message
    return _new_page(request, mailing_list, values, error)


def _create_and_upload(request, mailing_list, values, upload):
    campaign = consent_requests.consent_request_create(
        account=request.user.account,
        created_by=request.user,
        mailing_list_id=mailing_list.pk,
        from_name=values["from_name"],
        from_email=values["from_email"],
        intro=values["intro"],
    )
    return campaign, _upload(request, campaign.pk, upload)


def _new_page(request, mailing_list, values, error) -> HttpResponse:
    return render(
        request,
        "campaigns/consent_request_new.html",
        {
            "list": mailing_list,
            "values": values,
            "error": error,
            "domains": _verified_domains(request.user.account),
        },
    )


def _detail(request, campaign, report=None) -> HttpResponse:
    candidates = ConsentCandidate.objects.filter(campaign=campaign)
    return render(
        request,
        "campaigns/consent_request_detail.html",
        {
            "campaign": campaign,
            "list": campaign.lists.order_by("pk").first(),
            "waiting": candidates.filter(status=CandidateStatus.WAITING).count(),
            "confirmed": candidates.filter(status=CandidateStatus.CONFIRMED).count(),
            "report": report,
        },
    )


@account_required
def consent_request_detail(request: SenderRequest, campaign_id: int) -> HttpResponse:
    """A consent request's candidates (more may be uploaded while it is a draft)."""
    campaign = consent_requests.request_of(account=request.user.account, campaign_id=campaign_id)
    report = None
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is not None:
            with show_errors(request):
                report = _upload(request, campaign.pk, upload)
        else:
            return redirect("consent_request_detail", campaign_id=campaign.pk)
    return _detail(request, campaign, report)
