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
