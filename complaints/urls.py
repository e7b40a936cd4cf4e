"""Public recipient pages: unsubscribe, report spam, the abuse form."""

urlpatterns: list = []
