from django.urls import path

from lists import public_views

urlpatterns = [
    path("subscribe/<str:public_id>/", public_views.subscribe, name="subscribe"),
    path(
        "subscribe/<str:public_id>/thanks/",
        public_views.subscribe_thanks,
        name="subscribe_thanks",
    ),
    path("confirm/<str:token>/", public_views.confirm, name="subscribe_confirm"),
]
