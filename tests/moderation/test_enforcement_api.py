"""The enforcement API: staff warn, freeze and unfreeze accounts and read their enforcement view;
a frozen account's sending endpoints answer 403 "...frozen..."; the sender appeals."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Account, Notification
from accounts.services import api_token_create
from campaigns.models import Campaign
from complaints.models import AbuseReport, AbuseStatus
from moderation.enforcement import appeals, decisions
from moderation.models import AccountFlag, Appeal, AuditEntry
from tests.campaigns.factories import CampaignFactory
from tests.factories import AccountFactory, UserFactory

pytestmark = pytest.mark.django_db

ACCOUNTS = "/api/v1/moderation/accounts/"
APPEAL = "/api/v1/account/appeal/"
REASON = "Three upheld abuse reports in a week: the list was bought."


@pytest.fixture
def account(sender):
    return sender.account


def decide(client, account_id, decision, body=None):
    return client.post(f"{ACCOUNTS}{account_id}/{decision}/", body or {}, format="json")


def test_a_moderator_freezes_an_account_and_gets_its_enforcement_view(mod_api, account, settings):
    settings.APPEAL_HOURS = 24

    response = decide(mod_api, account.pk, "freeze", {"reason": REASON})

    assert response.status_code == 200
    account.refresh_from_db()
    body = response.json()
    health = body.pop("health")
    assert body == {
        "id": account.pk,
        "company_name": "Acme Ltd",
        "state": "frozen",
        "state_reason": REASON,
        "state_changed_at": account.state_changed_at.isoformat().replace("+00:00", "Z"),
        "appeal_deadline": (account.state_changed_at + timedelta(hours=24))
        .isoformat()
        .replace("+00:00", "Z"),
        "deletion_due_at": None,
        "open_flags": 0,
        "pending_appeal": False,
        "created_at": account.created_at.isoformat().replace("+00:00", "Z"),
        "appeal": None,
    }
    assert health["status"] == "not_enough_data"
    assert (health["sent"], health["hard_bounce_limit"], health["complaint_limit"]) == (
        0,
        0.05,
        0.005,
    )
    assert AuditEntry.objects.filter(account=account, action="frozen").count() == 1


def test_warn_and_unfreeze_answer_the_new_state(mod_api, account, moderator):
    assert decide(mod_api, account.pk, "warn", {"reason": "Careful."}).json()["state"] == "warned"
    assert decide(mod_api, account.pk, "freeze", {"reason": REASON}).json()["state"] == "frozen"

    response = decide(mod_api, account.pk, "unfreeze", {"reason": "Fixed."})

    assert response.status_code == 200
    assert (response.json()["state"], response.json()["state_reason"]) == ("active", "Fixed.")
    assert list(
        AuditEntry.objects.filter(account=account).order_by("id").values_list("action", flat=True)
    ) == ["warned", "frozen", "unfrozen"]


def test_repeating_a_decision_answers_200_and_changes_nothing(mod_api, account):
    decide(mod_api, account.pk, "freeze", {"reason": REASON})

    again = decide(mod_api, account.pk, "freeze", {"reason": "Other"})

    assert again.status_code == 200
    assert again.json()["state_reason"] == REASON
    assert AuditEntry.objects.filter(account=account).count() == 1
    assert Notification.objects.filter(account=account).count() == 1


@pytest.mark.parametrize("decision", ["warn", "freeze", "unfreeze"])
@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "x" * 2001}])
def test_a_decision_without_a_reason_is_a_400_that_changes_nothing(
    mod_api, account, decision, body
):
    Account.objects.filter(pk=account.pk).update(
        state="frozen" if decision == "unfreeze" else "active"
    )

    response = decide(mod_api, account.pk, decision, body)

    assert response.status_code == 400
    assert list(response.json()) == ["reason"]
    assert Account.objects.get(pk=account.pk).state_reason == ""
    assert not AuditEntry.objects.exists()


def test_an_illegal_decision_is_a_409_that_changes_nothing(mod_api, account):
    Account.objects.filter(pk=account.pk).update(state="deleted")

    for decision in ("warn", "freeze", "unfreeze"):
        response = decide(mod_api, account.pk, decision, {"reason": REASON})
        assert response.status_code == 409
        assert response.json()["state"] == "deleted"

    assert Account.objects.get(pk=account.pk).state == "deleted"
    assert not AuditEntry.objects.exists()


def test_an_unknown_account_is_a_404(mod_api):
    assert decide(mod_api, 2_000_000_000, "freeze", {"reason": REASON}).status_code == 404
    assert mod_api.get(f"{ACCOUNTS}2000000000/").status_code == 404


def test_senders_get_a_403_and_change_nothing(sender_api, account):
    other = AccountFactory()

    for decision in ("warn", "freeze", "unfreeze"):
        for target in (account.pk, other.pk):
            response = decide(sender_api, target, decision, {"reason": REASON})
            assert response.status_code == 403
    assert sender_api.get(ACCOUNTS).status_code == 403
    assert sender_api.get(f"{ACCOUNTS}{other.pk}/").status_code == 403
    assert sender_api.get("/api/v1/moderation/abuse-reports/").status_code == 403

    assert set(Account.objects.values_list("state", flat=True)) == {"active"}
    assert not AuditEntry.objects.exists()


def test_the_list_shows_accounts_waiting_for_a_moderator_first(mod_api, account, moderator):
    frozen = AccountFactory(company_name="Bravo frozen")
    warned = AccountFactory(company_name="Alpha warned")
    flagged = AccountFactory(company_name="Zulu flagged")
    appealing = AccountFactory(company_name="Yankee appealing")
    decisions.account_freeze(account_id=frozen.pk, moderator=moderator, reason=REASON)
    decisions.account_warn(account_id=warned.pk, moderator=moderator, reason="Careful.")
    AccountFlag.objects.create(account=flagged, reason="Complaints at 0.8%.")
    decisions.account_freeze(account_id=appealing.pk, moderator=moderator, reason=REASON)
    appealing.refresh_from_db()
    appeals.appeal_file(account=appealing, user=None, text="Please.")

    rows = mod_api.get(ACCOUNTS).json()["results"]

    assert [(r["company_name"], r["open_flags"], r["pending_appeal"]) for r in rows] == [
        ("Yankee appealing", 0, True),
        ("Zulu flagged", 1, False),
        ("Bravo frozen", 0, False),
        ("Alpha warned", 0, False),
        ("Acme Ltd", 0, False),
    ]
    assert [
        r["company_name"] for r in mod_api.get(f"{ACCOUNTS}?state=warned").json()["results"]
    ] == ["Alpha warned"]
    assert [
        r["company_name"] for r in mod_api.get(f"{ACCOUNTS}?flagged=true").json()["results"]
    ] == ["Yankee appealing", "Zulu flagged"]
    assert [
        r["company_name"] for r in mod_api.get(f"{ACCOUNTS}?state=frozen").json()["results"]
    ] == ["Yankee appealing", "Bravo frozen"]
    assert mod_api.get(f"{ACCOUNTS}?state=nonsense").status_code == 400


def test_the_account_view_has_its_health_and_appeal(mod_api, account, moderator, settings):
    settings.ABUSE_UPHELD_WARN = 2
    AbuseReport.objects.create(
        reporter_email="kim@example.net",
        account=account,
        status=AbuseStatus.UPHELD,
        resolved_at=timezone.now(),
    )
    AbuseReport.objects.create(reporter_email="lee@example.net", account=account)
    decisions.account_freeze(account_id=account.pk, moderator=moderator, reason=REASON)
    account.refresh_from_db()
    appeal = appeals.appeal_file(account=account, user=None, text="Please.")

    body = mod_api.get(f"{ACCOUNTS}{account.pk}/").json()

    assert (body["health"]["upheld_abuse_reports"], body["health"]["open_abuse_reports"]) == (1, 1)
    assert body["pending_appeal"] is True
    assert body["appeal"]["id"] == appeal.pk
    assert (body["appeal"]["status"], body["appeal"]["text"]) == ("pending", "Please.")


# --- a frozen account cannot send -----------------------------------------------------------------


@pytest.fixture
def frozen(account, moderator):
    decisions.account_freeze(account_id=account.pk, moderator=moderator, reason=REASON)
    account.refresh_from_db()
    return account


def test_a_frozen_accounts_sending_endpoints_answer_403_frozen(frozen, sender_api, mailing_list):
    draft = CampaignFactory(account=frozen, lists=[mailing_list], name="Draft")
    fields = {
        "name": "New",
        "lists": [mailing_list.pk],
        "subject": "Hello",
        "from_name": "Acme",
        "from_email": draft.from_email,
        "html_body": "<p>Hi</p>",
    }

    created = sender_api.post("/api/v1/campaigns/", fields, format="json")
    submitted = sender_api.post(f"/api/v1/campaigns/{draft.pk}/submit/", format="json")
    tested = sender_api.post(f"/api/v1/campaigns/{draft.pk}/test/", {}, format="json")

    for response in (created, submitted, tested):
        assert response.status_code == 403
        assert "frozen" in response.json()["detail"]
        assert REASON in response.json()["detail"]
    assert list(Campaign.objects.filter(account=frozen).values_list("name", "status")) == [
        ("Draft", "draft")
    ]
    # Reading still works.
    assert sender_api.get(f"/api/v1/campaigns/{draft.pk}/").status_code == 200


# --- the sender's appeal --------------------------------------------------------------------------


def test_the_sender_reads_the_deadline_and_appeals_once(frozen, sender_api, settings):
    settings.APPEAL_HOURS = 24

    state = sender_api.get(APPEAL).json()
    assert state == {
        "state": "frozen",
        "state_reason": REASON,
        "appeal_deadline": (frozen.state_changed_at + timedelta(hours=24))
        .isoformat()
        .replace("+00:00", "Z"),
        "can_appeal": True,
        "window_passed": False,
        "deletion_due_at": None,
        "appeal": None,
    }

    filed = sender_api.post(APPEAL, {"text": "The addresses came from our shop."}, format="json")

    assert filed.status_code == 201
    assert (filed.json()["can_appeal"], filed.json()["appeal"]["status"]) == (False, "pending")
    again = sender_api.post(APPEAL, {"text": "Please."}, format="json")
    assert again.status_code == 409
    assert "already appealed" in again.json()["detail"]
    assert Appeal.objects.count() == 1


def test_appealing_too_late_or_unfrozen_is_a_409_and_an_empty_text_a_400(
    frozen, sender_api, account
):
    assert sender_api.post(APPEAL, {"text": ""}, format="json").status_code == 400
    Account.objects.filter(pk=account.pk).update(
        state_changed_at=timezone.now() - timedelta(hours=25)
    )
    late = sender_api.post(APPEAL, {"text": "Sorry."}, format="json")
    assert late.status_code == 409
    assert sender_api.get(APPEAL).json()["window_passed"] is True
    Account.objects.filter(pk=account.pk).update(state="active")
    assert sender_api.post(APPEAL, {"text": "Hm."}, format="json").status_code == 409
    assert not Appeal.objects.exists()


def test_staff_without_an_account_cannot_appeal(mod_api):
    assert mod_api.post(APPEAL, {"text": "Hm."}, format="json").status_code == 403


def test_a_read_only_token_cannot_appeal(frozen, sender):
    _, key = api_token_create(user=sender, name="read", read_only=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    assert client.post(APPEAL, {"text": "Hm."}, format="json").status_code == 403
    assert client.get(APPEAL).status_code == 200
    assert not Appeal.objects.exists()


def test_other_users_of_another_account_see_their_own_state(frozen, db):
    other = UserFactory()
    _, key = api_token_create(user=other, name="t")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    assert client.get(APPEAL).json()["state"] == "active"
    assert client.post(APPEAL, {"text": "Hm."}, format="json").status_code == 409
    assert not Appeal.objects.exists()
