from django.urls import path

from lists import export_views, public_views, tag_views, views

urlpatterns = [
    path(
        "lists/<int:list_id>/subscribers/<int:subscriber_id>/tags/",
        tag_views.subscriber_tags_add,
        name="subscriber_tags_add",
    ),
    path(
        "lists/<int:list_id>/subscribers/<int:subscriber_id>/tags/remove/",
        tag_views.subscriber_tag_remove,
        name="subscriber_tag_remove",
    ),
    # The owner's download of every list with its consent records (before closing the account).
    path("account/export/", views.account_export, name="account_export"),
    # Exports written in the background: the person's list, one job, its file, the mailed link.
    path("exports/", export_views.exports, name="exports"),
    path("exports/<int:export_id>/", export_views.export_detail, name="export_detail"),
    path("exports/<int:export_id>/download/", export_views.export_download, name="export_download"),
    path("exports/link/<str:export_token>/", export_views.export_link, name="export_link"),
    path("consent/<int:record_id>/proof/", views.consent_proof, name="consent_proof"),
    # Recipients: the hosted subscription form and the double opt-in confirmation.
    path("subscribe/<str:public_id>/", public_views.subscribe, name="subscribe"),
    path(
        "subscribe/<str:public_id>/thanks/",
        public_views.subscribe_thanks,
        name="subscribe_thanks",
    ),
    path("confirm/<str:token>/", public_views.confirm, name="subscribe_confirm"),
    # Senders.
    path("lists/", views.list_index, name="lists"),
    path("lists/new/", views.list_create, name="list_create"),
    path("lists/<int:list_id>/", views.list_detail, name="list_detail"),
    path("lists/<int:list_id>/edit/", views.list_edit, name="list_edit"),
    path("lists/<int:list_id>/delete/", views.list_delete, name="list_delete"),
    path("lists/<int:list_id>/form/", views.list_form_builder, name="list_form_builder"),
    path("lists/<int:list_id>/subscribers/add/", views.subscriber_add, name="subscriber_add"),
    path(
        "lists/<int:list_id>/subscribers/<int:subscriber_id>/",
        views.subscriber_detail,
        name="subscriber_detail",
    ),
    path(
        "lists/<int:list_id>/subscribers/<int:subscriber_id>/unsubscribe/",
        views.subscriber_unsubscribe,
        name="subscriber_unsubscribe",
    ),
    path(
        "lists/<int:list_id>/subscribers/<int:subscriber_id>/edit/",
        views.subscriber_edit,
        name="subscriber_edit",
    ),
    path(
        "lists/<int:list_id>/subscribers/<int:subscriber_id>/remove/",
        views.subscriber_remove,
        name="subscriber_remove",
    ),
    path("lists/<int:list_id>/export/", views.list_export, name="list_export"),
    path("lists/<int:list_id>/import/", views.import_upload, name="import_upload"),
    path("imports/<int:import_id>/", views.import_progress, name="import_progress"),
    path("imports/<int:import_id>/map/", views.import_map, name="import_map"),
    path("privacy-requests/", views.privacy_requests, name="privacy_requests"),
    path("suppressions/", views.suppressions, name="suppressions"),
]
