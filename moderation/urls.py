"""Browser pages for moderators (staff only), and the sender's appeal page."""

from django.urls import path

from config.security import allows_mail_preview
from moderation import views

# The review page (also shown again by a decision whose form has an error) has the message in
# the preview frame, which needs a wider Content-Security-Policy (config/security.py).
review = allows_mail_preview(views.review)
decide = allows_mail_preview(views.decide)

urlpatterns = [
    path("moderation/", views.queue, name="moderation_queue"),
    path("moderation/campaigns/<int:campaign_id>/", review, name="moderation_review"),
    *[
        path(
            f"moderation/campaigns/<int:campaign_id>/{decision}/",
            decide,
            {"decision": decision},
            name=f"moderation_{decision}",
        )
        for decision in ("approve", "reject", "release", "decline")
    ],
    path(
        "moderation/consent/<int:record_id>/proof/",
        views.consent_proof,
        name="moderation_consent_proof",
    ),
    path(
        "moderation/appeal-files/<int:file_id>/",
        views.appeal_file,
        name="moderation_appeal_file",
    ),
    path("moderation/audit/", views.audit, name="moderation_audit"),
    path("moderation/accounts/", views.accounts, name="moderation_accounts"),
    path("moderation/accounts/<int:account_id>/", views.account_detail, name="moderation_account"),
    *[
        path(
            f"moderation/accounts/<int:account_id>/{action}/",
            views.account_decide,
            {"action": action},
            name=f"moderation_account_{action}",
        )
        for action in ("warn", "freeze", "unfreeze")
    ],
    *[
        path(
            f"moderation/appeals/<int:appeal_id>/{decision}/",
            views.appeal_decide,
            {"decision": decision},
            name=f"moderation_appeal_{decision}",
        )
        for decision in ("grant", "reject")
    ],
    path("moderation/blocklists/", views.blocklists, name="moderation_blocklists"),
    path("moderation/abuse/", views.abuse_queue, name="moderation_abuse"),
    path(
        "moderation/abuse/<int:report_id>/resolve/",
        views.abuse_resolve,
        name="moderation_abuse_resolve",
    ),
    # The sender's side of enforcement: appealing a freeze.
    path("account/appeal/", views.account_appeal, name="account_appeal"),
    path("account/close/", views.account_close, name="account_close"),
]
