from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import brand_views, team_views, views
from accounts.forms import UserLanguagePasswordResetForm

urlpatterns = [
    path("", views.home, name="home"),
    path("signup/", views.signup, name="signup"),
    path("login/", views.EmailLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password-reset/",
        auth_views.PasswordResetView.as_view(
            form_class=UserLanguagePasswordResetForm,
            template_name="accounts/password_reset.html",
            email_template_name="accounts/email/password_reset.txt",
            subject_template_name="accounts/email/password_reset_subject.txt",
        ),
        name="password_reset",
    ),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_sent.html"),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="accounts/password_reset_confirm.html"
        ),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="accounts/password_reset_done.html"
        ),
        name="password_reset_complete",
    ),
    path(
        "account/password/",
        auth_views.PasswordChangeView.as_view(template_name="accounts/password_change.html"),
        name="password_change",
    ),
    path(
        "account/password/done/",
        auth_views.PasswordChangeDoneView.as_view(
            template_name="accounts/password_change_done.html"
        ),
        name="password_change_done",
    ),
    path("verify/resend/", views.resend_verification, name="resend_verification"),
    path("verify/<str:token>/", views.verify_email, name="verify_email"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("account/profile/", views.profile, name="profile"),
    path("account/profile/brand/", brand_views.profile_brand, name="profile_brand"),
    # Public: the sender's logo and brand colours on recipient pages.
    path("brand/<str:key>/logo/", brand_views.brand_logo, name="brand_logo"),
    path("brand/colour/<str:color>.css", brand_views.brand_css, name="brand_css"),
    path("account/tokens/", views.api_tokens, name="api_tokens"),
    path("account/tokens/<int:token_id>/revoke/", views.api_token_revoke, name="api_token_revoke"),
    path("account/domains/", views.sender_domains, name="sender_domains"),
    path("account/domains/<int:domain_id>/", views.sender_domain, name="sender_domain"),
    path(
        "account/domains/<int:domain_id>/verify/",
        views.sender_domain_verify,
        name="sender_domain_verify",
    ),
    path(
        "account/domains/<int:domain_id>/selector/",
        views.sender_domain_selector,
        name="sender_domain_selector",
    ),
    path(
        "account/domains/<int:domain_id>/rotate-key/",
        views.sender_domain_rotate_key,
        name="sender_domain_rotate_key",
    ),
    path(
        "account/domains/<int:domain_id>/delete/",
        views.sender_domain_delete,
        name="sender_domain_delete",
    ),
    path("account/webhooks/", views.webhook_list, name="webhooks"),
    path("account/webhooks/<int:webhook_id>/", views.webhook_detail, name="webhook"),
    path("account/webhooks/<int:webhook_id>/test/", views.webhook_test, name="webhook_test"),
    path(
        "account/webhooks/<int:webhook_id>/rotate/",
        views.webhook_rotate_secret,
        name="webhook_rotate_secret",
    ),
    path(
        "account/webhooks/<int:webhook_id>/delete/",
        views.webhook_delete,
        name="webhook_delete",
    ),
    path("account/team/", team_views.team_page, name="team"),
    path("account/team/invite/", team_views.team_invite, name="team_invite"),
    path(
        "account/team/invitations/<int:invitation_id>/revoke/",
        team_views.team_invitation_revoke,
        name="team_invitation_revoke",
    ),
    path(
        "account/team/members/<int:user_id>/role/",
        team_views.team_member_role,
        name="team_member_role",
    ),
    path(
        "account/team/members/<int:user_id>/remove/",
        team_views.team_member_remove,
        name="team_member_remove",
    ),
    path("account/team/transfer/", team_views.team_transfer, name="team_transfer"),
    # Public: the e-mailed invitation; the signed token is the key.
    path("join/<str:token>/", team_views.team_join, name="team_join"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/read/", views.notifications_mark_read, name="notifications_mark_read"),
    path("terms/", views.legal_page, {"page": "terms"}, name="terms"),
    path("privacy/", views.legal_page, {"page": "privacy"}, name="privacy"),
    path("account/accept-terms/", views.terms_accept, name="terms_accept"),
]
