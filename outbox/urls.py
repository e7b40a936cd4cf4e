from django.urls import path

from outbox import views

urlpatterns = [
    path("", views.outbox_list, name="outbox"),
    path("<str:name>/", views.outbox_detail, name="outbox_message"),
]
