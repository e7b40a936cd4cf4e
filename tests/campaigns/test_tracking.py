"""The click redirect and the open pixel answer from the signed token alone."""

from campaigns.tokens import MessageTokens
from tests.campaigns.factories import CampaignFactory, with_approved_version


def test_a_click_redirects_to_the_campaigns_link(client, db):
    campaign = with_approved_version(
        CampaignFactory(
            html_body='<a href="https://acme.example/a">a</a> '
            '<a href="https://acme.example/b?x=1&amp;y=2">b</a>'
        )
    )
    tokens = MessageTokens(campaign_id=campaign.pk, subscriber_id=5)

    first = client.get(f"/c/{tokens.click(0)}/")
    second = client.get(f"/c/{tokens.click(1)}/")

    assert (first.status_code, first["Location"]) == (302, "https://acme.example/a")
    assert (second.status_code, second["Location"]) == (302, "https://acme.example/b?x=1&y=2")
    assert "no-cache" in first["Cache-Control"]


def test_a_bad_click_token_is_a_friendly_404(client, db):
    campaign = CampaignFactory(html_body='<a href="https://acme.example/a">a</a>')
    tokens = MessageTokens(campaign_id=campaign.pk, subscriber_id=5)
    good = tokens.click(0)

    for token in (good[:-2] + "AA", tokens.click(1), tokens.unsubscribe(), "nonsense"):
        response = client.get(f"/c/{token}/")
        assert response.status_code == 404
        assert b"This link is not valid" in response.content
        assert not response.has_header("Location")
    gone = MessageTokens(campaign_id=campaign.pk + 1, subscriber_id=5).click(0)
    assert client.get(f"/c/{gone}/").status_code == 404


def test_the_open_pixel_is_a_gif(client, db):
    response = client.get(f"/o/{MessageTokens(campaign_id=1, subscriber_id=2).open()}.gif")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert response.content.startswith(b"GIF89a")
    assert "no-store" in response["Cache-Control"]
