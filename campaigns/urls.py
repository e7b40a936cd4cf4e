"""Browser pages for senders: campaigns."""

urlpatterns: list = []
