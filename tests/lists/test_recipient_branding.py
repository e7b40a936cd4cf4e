"""The sender's branding on recipient pages: the logo upload (only real PNG, JPEG, GIF or WebP
images, never SVG, at most BRAND_LOGO_MAX_BYTES), the public logo and colour addresses, the
pages that show them, and the double opt-in e-mail in the language of the page signed up on."""

import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import example, given
from hypothesis import strategies as st

from accounts import branding
from accounts.models import Account
from lists.models import Subscriber, SubscriberStatus
from tests.factories import UserFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 40
GIF = b"GIF89a" + b"\x01\x00\x01\x00" + b"\x00" * 40
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 40
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    cache.clear()


@pytest.fixture
def owner(client):
    user = UserFactory(account__company_name="Violet Harbour Ltd")
    client.force_login(user)
    return client, user.account


def _upload(client, content: bytes, name: str = "logo.png", content_type="image/png", **data):
    upload = SimpleUploadedFile(name, content, content_type=content_type)
    return client.post(reverse("profile_brand"), {"logo": upload, **data}, follow=True)


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- the upload ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "content_type"),
    [(PNG, "image/png"), (JPEG, "image/jpeg"), (GIF, "image/gif"), (WEBP, "image/webp")],
    ids=["png", "jpeg", "gif", "webp"],
)
def test_an_image_is_stored_with_the_type_its_bytes_show(owner, content, content_type):
    client, account = owner
    # The name and the browser's type say nothing: the bytes decide.
    response = _upload(client, content, name="anything.bin", content_type="text/plain")

    account.refresh_from_db()
    assert "Your branding is saved." in _messages(response)
    assert account.logo_content_type == content_type
    assert re.fullmatch(r"brand/[0-9a-f]{32}", account.logo.name)
    assert account.logo.read() == content


@pytest.mark.parametrize(
    ("content", "name", "content_type"),
    [
        (SVG, "logo.svg", "image/svg+xml"),
        (SVG, "logo.png", "image/png"),  # an SVG under a PNG's name and type
        (b"<html><script>alert(1)</script></html>", "logo.gif", "image/gif"),
        (b"%PDF-1.7 not an image", "logo.jpg", "image/jpeg"),
    ],
    ids=["svg", "svg-named-png", "html-named-gif", "pdf-named-jpg"],
)
def test_anything_but_a_png_jpeg_gif_or_webp_is_refused_and_nothing_is_stored(
    owner, settings, tmp_path, content, name, content_type
):
    client, account = owner
    response = _upload(client, content, name=name, content_type=content_type)

    account.refresh_from_db()
    assert _messages(response) == [
        "Upload a PNG, JPEG, GIF or WebP image. SVG and other files are not accepted."
    ]
    assert (account.logo.name, account.logo_content_type) == ("", "")
    assert not (tmp_path / "media" / "brand").exists()


def test_a_logo_over_the_size_limit_is_refused(owner, settings, tmp_path):
    settings.BRAND_LOGO_MAX_BYTES = 1024
    client, account = owner
    exactly = _upload(client, PNG + b"\x00" * (1024 - len(PNG)))
    account.refresh_from_db()
    assert account.logo_content_type == "image/png"  # the limit itself is allowed
    kept = account.logo.name

    response = _upload(client, PNG + b"\x00" * 1024)

    account.refresh_from_db()
    assert "Your branding is saved." in _messages(exactly)
    assert _messages(response) == ["The logo may be at most 1 KB; make it smaller and try again."]
    assert account.logo.name == kept
    assert [p.name for p in (tmp_path / "media" / "brand").iterdir()] == [kept.split("/")[1]]


def test_a_new_logo_replaces_the_old_file_and_removing_deletes_it(
    owner, tmp_path, django_capture_on_commit_callbacks
):
    client, account = owner
    brand_dir = tmp_path / "media" / "brand"
    with django_capture_on_commit_callbacks(execute=True):
        _upload(client, PNG)
    account.refresh_from_db()
    first = account.logo.name

    with django_capture_on_commit_callbacks(execute=True):
        _upload(client, GIF)
    account.refresh_from_db()
    assert account.logo.name != first
    assert [p.name for p in brand_dir.iterdir()] == [account.logo.name.split("/")[1]]

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("profile_brand"), {"remove_logo": "on"})
    account.refresh_from_db()
    assert (account.logo.name, account.logo_content_type) == ("", "")
    assert list(brand_dir.iterdir()) == []


def test_the_brand_colour_is_checked_and_kept_lowercase(owner):
    client, account = owner
    bad = client.post(reverse("profile_brand"), {"brand_color": "red"}, follow=True)
    account.refresh_from_db()
    assert account.brand_color == ""
    assert _messages(bad) == ["Give the colour as six hexadecimal digits, e.g. #1f6feb."]

    client.post(reverse("profile_brand"), {"brand_color": "#1F6FEB"})
    account.refresh_from_db()
    assert account.brand_color == "#1f6feb"


def test_the_profile_page_offers_the_upload_and_shows_the_current_logo(owner):
    client, account = owner
    before = client.get(reverse("profile")).content.decode()
    assert 'action="/account/profile/brand/"' in before
    assert 'enctype="multipart/form-data"' in before
    assert 'name="remove_logo"' not in before  # nothing to remove yet

    _upload(client, PNG)
    account.refresh_from_db()
    after = client.get(reverse("profile")).content.decode()
    assert f'<img src="{account.logo_url}"' in after
    assert 'name="remove_logo"' in after


def test_another_accounts_user_and_a_visitor_cannot_change_the_branding(client):
    response = client.post(reverse("profile_brand"), {"brand_color": "#000000"})
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert not Account.objects.exclude(brand_color="").exists()


# --- serving the logo and the colours ------------------------------------------------------------


def test_the_logo_is_served_inline_as_an_image_that_cannot_be_sniffed_into_a_page(owner):
    client, account = owner
    _upload(client, PNG)
    account.refresh_from_db()

    client.logout()
    response = client.get(account.logo_url)

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == 'inline; filename="logo.png"'
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "sandbox" in response["Content-Security-Policy"]
    assert "Set-Cookie" not in response


@pytest.mark.parametrize("key", ["0" * 32, "not-a-key", "../../etc/passwd"])
def test_an_unknown_or_malformed_logo_key_is_a_404(client, key):
    assert client.get(f"/brand/{key}/logo/").status_code == 404


@pytest.mark.parametrize(
    ("color", "ink", "link"),
    [
        ("1f3a93", "#ffffff", "#1f3a93"),  # dark blue: white text, and links in the colour
        ("ffd700", "#1d2330", "#1d2330"),  # gold: dark text; gold links would not read on white
    ],
)
def test_the_colour_stylesheet_keeps_text_readable(client, color, ink, link):
    response = client.get(f"/brand/colour/{color}.css")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/css; charset=utf-8"
    assert response.content.decode() == (
        f"body.public{{--brand:#{color};--brand-ink:{ink};--brand-link:{link}}}\n"
    )


def test_a_colour_stylesheet_for_anything_but_a_colour_is_a_404(client):
    assert client.get("/brand/colour/red;}body{x.css").status_code == 404


@given(st.from_regex(r"#[0-9a-f]{6}", fullmatch=True))
@example("#a86821")  # neither white (4.49:1) nor the dark ink reaches 4.5: black text does
@example("#777777")
def test_every_brand_colour_gets_button_text_and_links_of_aa_contrast(color):
    colours = branding.palette(color)
    assert branding.contrast(colours["brand"], colours["brand_ink"]) >= branding.AA_CONTRAST
    assert branding.contrast(colours["link"], branding.WHITE) >= branding.AA_CONTRAST


# --- the pages -----------------------------------------------------------------------------------


def _branded_list():
    user = UserFactory(account__company_name="Violet Harbour Ltd")
    account = user.account
    account.logo.save("0123456789abcdef0123456789abcdef", SimpleUploadedFile("x", PNG), save=False)
    account.logo_content_type = "image/png"
    account.brand_color = "#1f3a93"
    account.save()
    return MailingListFactory(account=account, name="Harbour news", double_opt_in=True)


def test_the_hosted_form_shows_the_senders_logo_name_and_colours(client):
    mailing_list = _branded_list()
    account = mailing_list.account

    body = client.get(f"/subscribe/{mailing_list.public_id}/").content.decode()

    logo = re.search(r'<img class="brand-logo"[^>]*>', body).group(0)
    assert f'src="{account.logo_url}"' in logo and 'alt="Violet Harbour Ltd"' in logo
    assert ">Violet Harbour Ltd</p>" in body
    assert '<link rel="stylesheet" href="/brand/colour/1f3a93.css">' in body
    assert "Form of Violet Harbour Ltd, hosted by ConsentMail" in body
    assert 'action="/language/"' in body  # the language switcher


def test_without_a_logo_the_pages_show_the_name_alone(client):
    mailing_list = MailingListFactory(account__company_name="Plain Co")
    body = client.get(f"/subscribe/{mailing_list.public_id}/").content.decode()
    assert "brand-logo" not in body
    assert '<p class="sender" id="sender-name">Plain Co</p>' in body
    assert "/brand/colour/" not in body


def test_the_hosted_form_follows_the_browsers_language(client):
    mailing_list = _branded_list()
    url = f"/subscribe/{mailing_list.public_id}/"

    russian = client.get(url, headers={"accept-language": "ru,en;q=0.5"})
    english = client.get(url, headers={"accept-language": "en"})

    text = russian.content.decode()
    assert russian["Content-Language"] == "ru"
    assert '<html lang="ru">' in text
    assert "Подписка на Harbour news" in text
    assert "Я соглашаюсь получать «Harbour news» от Violet Harbour Ltd." in text
    assert ">Подписаться</button>" in text
    assert "Форма Violet Harbour Ltd, размещена на ConsentMail" in text
    english_text = english.content.decode()
    assert '<html lang="en">' in english_text
    assert "I agree to receive “Harbour news” from Violet Harbour Ltd." in english_text
    assert ">Subscribe</button>" in english_text


def test_a_refused_sign_up_says_why_in_the_pages_language(client):
    mailing_list = _branded_list()
    response = client.post(
        f"/subscribe/{mailing_list.public_id}/",
        {"email": "ann@example.org"},
        headers={"accept-language": "ru"},
    )
    assert response.status_code == 400
    assert "Поставьте галочку, чтобы согласиться получать эти письма." in response.content.decode()
    assert not Subscriber.objects.exists()


# --- the confirmation e-mail's language ----------------------------------------------------------


def _sign_up(client, mailing_list, language: str, email="ann@example.org"):
    return client.post(
        f"/subscribe/{mailing_list.public_id}/",
        {"email": email, "name": "Ann", "consent": "on"},
        headers={"accept-language": language},
    )


def test_the_confirmation_goes_out_in_the_language_of_the_page(
    client, django_capture_on_commit_callbacks
):
    mailing_list = _branded_list()
    with django_capture_on_commit_callbacks(execute=True):
        _sign_up(client, mailing_list, "ru,en;q=0.5", email="ann@example.org")
        _sign_up(client, mailing_list, "en-GB,en;q=0.8", email="bob@example.org")

    ann = Subscriber.objects.get(email="ann@example.org")
    bob = Subscriber.objects.get(email="bob@example.org")
    assert (ann.language, bob.language) == ("ru", "en")
    russian, english = sorted(mail.outbox, key=lambda m: m.to[0])
    assert russian.subject == "Подтвердите подписку на «Harbour news»"
    assert russian.extra_headers["Content-Language"] == "ru"
    assert "Здравствуйте, Ann!" in russian.body
    assert "Подтвердите подписку, открыв эту ссылку:" in russian.body
    html = russian.alternatives[0][0]
    assert '<html lang="ru">' in html and ">Подтвердить подписку</a>" in html
    assert english.subject == "Please confirm your subscription to Harbour news"
    assert "Confirm your subscription by opening this link:" in english.body
    assert '<html lang="en">' in english.alternatives[0][0]


def test_a_person_who_left_and_signs_up_again_gets_the_new_pages_language(
    client, django_capture_on_commit_callbacks
):
    mailing_list = _branded_list()
    SubscriberFactory(
        mailing_list=mailing_list,
        email="ann@example.org",
        status=SubscriberStatus.UNSUBSCRIBED,
        language="en",
    )
    with django_capture_on_commit_callbacks(execute=True):
        _sign_up(client, mailing_list, "ru")

    assert Subscriber.objects.get(email="ann@example.org").language == "ru"
    assert [m.subject for m in mail.outbox] == ["Подтвердите подписку на «Harbour news»"]


def test_a_subscriber_the_sender_adds_gets_the_default_language(
    client, django_capture_on_commit_callbacks
):
    user = UserFactory(language="ru")
    mailing_list = MailingListFactory(account=user.account, name="Notes", double_opt_in=True)
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("subscriber_add", args=[mailing_list.pk]),
            {"email": "dora@example.org", "source": "paper_form", "proof": "Form 12, cabinet B"},
        )

    # The sender's own language says nothing about the subscriber's.
    assert Subscriber.objects.get(email="dora@example.org").language == ""
    assert [m.subject for m in mail.outbox] == ["Please confirm your subscription to Notes"]


def test_deleting_an_accounts_data_deletes_its_logo(
    owner, tmp_path, django_capture_on_commit_callbacks
):
    from accounts.models import AccountState
    from moderation.enforcement import deletion

    client, account = owner
    _upload(client, PNG, brand_color="#1f3a93")
    account.refresh_from_db()
    url = account.logo_url
    Account.objects.filter(pk=account.pk).update(state=AccountState.SCHEDULED_FOR_DELETION)

    with django_capture_on_commit_callbacks(execute=True):
        deletion.account_data_delete(account_id=account.pk)

    account.refresh_from_db()
    assert (account.logo.name, account.logo_content_type, account.brand_color) == ("", "", "")
    assert list((tmp_path / "media" / "brand").iterdir()) == []
    assert client.get(url).status_code == 404
