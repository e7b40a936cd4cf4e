"""The local outbox page shows both parts of a message (issue 23, item 11)."""

from email.message import EmailMessage

import pytest

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.outbox.urls")]

HTML = '<p>Hello <b id="bold">HTML</b></p><script>parent.document.title = "owned"</script>'


def store(directory, *, html: str | None = HTML) -> str:
    message = EmailMessage()
    message["Subject"] = "Two parts"
    message["From"] = "Shop <news@shop.example>"
    message["To"] = "dora@example.org"
    message.set_content("Hello text part")
    if html is not None:
        message.add_alternative(html, subtype="html")
    directory.mkdir(parents=True, exist_ok=True)
    name = "1-000001-abcdef01.eml"
    (directory / name).write_bytes(bytes(message))
    return name


def test_the_html_part_is_shown_in_a_sandboxed_frame_beside_the_text(client, settings, tmp_path):
    settings.OUTBOX_DIR = str(tmp_path / "outbox")
    name = store(tmp_path / "outbox")

    response = client.get(f"/dev/outbox/{name}/")

    assert response.status_code == 200
    body = response.content.decode()
    # The HTML, escaped into srcdoc of a frame that runs no script and cannot reach the page.
    assert 'id="preview-html" class="mail-frame" sandbox=""' in body
    assert 'srcdoc="&lt;p&gt;Hello &lt;b id=&quot;bold&quot;&gt;HTML&lt;/b&gt;' in body
    assert "<script>parent" not in body
    assert "Hello text part" in body
    assert 'role="tablist"' in body
    # The page's policy: the mail's inline styles allowed, never a script.
    policy = response.headers["Content-Security-Policy"]
    assert "style-src-attr 'unsafe-inline'" in policy
    assert "script-src 'self'" in policy


def test_a_text_only_message_shows_its_text_without_a_frame(client, settings, tmp_path):
    settings.OUTBOX_DIR = str(tmp_path / "outbox")
    name = store(tmp_path / "outbox", html=None)

    body = client.get(f"/dev/outbox/{name}/").content.decode()

    assert "Hello text part" in body
    assert "preview-html" not in body
