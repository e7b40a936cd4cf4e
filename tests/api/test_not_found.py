"""A path under /api/ that matches no route answers JSON, like every other API error."""

import pytest


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/api/v1/campaigns/null,null/", "/api/v1/lists/-3/", "/api/v1/nothing-here/"]
)
def test_an_unmatched_api_path_is_a_json_404(token_client, path):
    response = token_client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


@pytest.mark.django_db
def test_an_unmatched_page_is_still_an_html_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.django_db
def test_a_request_django_refuses_before_any_view_is_a_json_400_under_the_api(token_client):
    # An empty Host header (schemathesis sent one) is refused by Django itself.
    response = token_client.post("/api/v1/webhooks/", {}, format="json", HTTP_HOST="")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Bad request."}


@pytest.mark.django_db
def test_a_page_django_refuses_is_still_the_html_400(client):
    response = client.get("/lists/", HTTP_HOST="")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
