from django.urls import path

from lists.api import tags, views

urlpatterns = [
    path("lists/", views.ListListView.as_view(), name="api-lists"),
    path("lists/<int:list_id>/", views.ListDetailView.as_view(), name="api-list"),
    path(
        "lists/<int:list_id>/subscribers/",
        views.SubscriberListView.as_view(),
        name="api-subscribers",
    ),
    path(
        "lists/<int:list_id>/subscribers/bulk/",
        views.SubscriberBulkView.as_view(),
        name="api-subscribers-bulk",
    ),
    path(
        "lists/<int:list_id>/subscribers/<int:subscriber_id>/",
        views.SubscriberDetailView.as_view(),
        name="api-subscriber",
    ),
    path(
        "lists/<int:list_id>/subscribers/<int:subscriber_id>/remove/",
        views.SubscriberRemoveView.as_view(),
        name="api-subscriber-remove",
    ),
    path("lists/<int:list_id>/export/", views.ListExportView.as_view(), name="api-list-export"),
    path("exports/", views.ExportListView.as_view(), name="api-exports"),
    path("exports/<int:export_id>/", views.ExportDetailView.as_view(), name="api-export"),
    path(
        "exports/<int:export_id>/download/",
        views.ExportDownloadView.as_view(),
        name="api-export-download",
    ),
    path("lists/<int:list_id>/imports/", views.ImportCreateView.as_view(), name="api-imports"),
    path("imports/<int:import_id>/", views.ImportDetailView.as_view(), name="api-import"),
    path(
        "imports/<int:import_id>/errors.csv",
        views.ImportErrorsView.as_view(),
        name="api-import-errors",
    ),
    path("subscribers/erase/", views.SubscriberEraseView.as_view(), name="api-subscriber-erase"),
    path("subscribers/export/", views.SubscriberExportView.as_view(), name="api-subscriber-export"),
    path("tags/", tags.TagListView.as_view(), name="api-tags"),
    path("tags/<int:tag_id>/", tags.TagDetailView.as_view(), name="api-tag"),
    path("tags/add/", tags.BulkTagsView.as_view(), name="api-tags-add"),
    path("tags/remove/", tags.BulkTagsRemoveView.as_view(), name="api-tags-remove"),
    path(
        "lists/<int:list_id>/subscribers/<int:subscriber_id>/tags/",
        tags.SubscriberTagsView.as_view(),
        name="api-subscriber-tags",
    ),
    path(
        "lists/<int:list_id>/subscribers/<int:subscriber_id>/tags/remove/",
        tags.SubscriberTagsRemoveView.as_view(),
        name="api-subscriber-tags-remove",
    ),
]
