"""The account's complaints and abuse reports (GET /api/v1/complaints/)."""

urlpatterns: list = []
