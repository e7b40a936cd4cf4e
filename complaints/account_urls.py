"""The sender's pages about what recipients reported (unsubscribes, complaints, bounces)."""

urlpatterns: list = []
