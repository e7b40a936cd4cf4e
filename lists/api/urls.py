from django.urls import path

from lists.api import views

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
    path("lists/<int:list_id>/imports/", views.ImportCreateView.as_view(), name="api-imports"),
    path("imports/<int:import_id>/", views.ImportDetailView.as_view(), name="api-import"),
    path(
        "imports/<int:import_id>/errors.csv",
        views.ImportErrorsView.as_view(),
        name="api-import-errors",
    ),
    path("subscribers/erase/", views.SubscriberEraseView.as_view(), name="api-subscriber-erase"),
    path("subscribers/export/", views.SubscriberExportView.as_view(), name="api-subscriber-export"),
]
