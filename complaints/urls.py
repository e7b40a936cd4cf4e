"""Public recipient pages: unsubscribe, report spam, the abuse form."""

from django.urls import path

from complaints import views

urlpatterns = [
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("r/<str:token>/", views.report, name="report_spam"),
    path("abuse/", views.abuse, name="abuse"),
    path("abuse/thanks/", views.abuse_thanks, name="abuse_thanks"),
]
