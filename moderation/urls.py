"""Browser pages for moderators (staff only), and the sender's appeal page."""

from django.urls import path

from moderation import views

urlpatterns = [
    path("moderation/", views.queue, name="moderation_queue"),
    path("moderation/campaigns/<int:campaign_id>/", views.review, name="moderation_review"),
    path(
        "moderation/campaigns/<int:campaign_id>/approve/",
        views.decide,
        {"decision": "approve"},
        name="moderation_approve",
    ),
    path(
        "moderation/campaigns/<int:campaign_id>/reject/",
        views.decide,
        {"decision": "reject"},
        name="moderation_reject",
    ),
    path(
        "moderation/campaigns/<int:campaign_id>/release/",
        views.decide,
        {"decision": "release"},
        name="moderation_release",
    ),
    path(
        "moderation/campaigns/<int:campaign_id>/decline/",
        views.decide,
        {"decision": "decline"},
        name="moderation_decline",
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
    path("moderation/abuse/", views.abuse_queue, name="moderation_abuse"),
    path(
        "moderation/abuse/<int:report_id>/resolve/",
        views.abuse_resolve,
        name="moderation_abuse_resolve",
    ),
    # The sender's side of enforcement: appealing a freeze.
    path("account/appeal/", views.account_appeal, name="account_appeal"),
]
