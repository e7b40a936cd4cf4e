"""Security headers: the Content-Security-Policy (django-csp), framing, MIME sniffing, referrer
and opener policies on a sender page, a public page and the API; the wider policy only where the
mail preview needs it; HSTS and secure cookies with the production settings; and templates
without the inline scripts, handlers or styles the policy would block."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from accounts.services import api_token_create
from tests.security.routes import World, build_world

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
BASE_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}


@pytest.fixture
def world(db, settings, tmp_path) -> World:
    return build_world(settings, tmp_path)


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = [part.strip().split() for part in header.split(";") if part.strip()]
    return {name: values for name, *values in directives}


def assert_hardened(response) -> None:
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_a_sender_page_has_the_strict_policy(world: World):
    client = Client()
    client.force_login(world.owner)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert policy(response) == BASE_POLICY
    assert_hardened(response)


def test_a_public_recipient_page_has_the_strict_policy_and_is_never_framed(world: World):
    """The hosted sign-up form is not embeddable: the embed snippet is a plain form posting
    here, so framing the page (and clickjacking its consent box) is refused."""
    response = Client().get(reverse("subscribe", args=[world.objects["list"].public_id]))
    assert response.status_code == 200
    assert policy(response) == BASE_POLICY
    assert_hardened(response)


def test_the_api_answers_with_the_same_headers(world: World):
    _, key = api_token_create(user=world.owner, name="headers")
    response = Client().get("/api/v1/account/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert policy(response) == BASE_POLICY
    assert_hardened(response)


def test_the_lockout_page_and_errors_carry_them_too(db):
    response = Client().get("/no-such-page/")
    assert response.status_code == 404
    assert policy(response) == BASE_POLICY
    assert_hardened(response)


@pytest.mark.parametrize(
    "who,name,object_key",
    [
        ("owner", "campaign_create", None),
        ("owner", "campaign_edit", "draft"),
        ("owner", "campaign_detail", "draft"),
        ("staff", "moderation_review", "submitted"),
    ],
)
def test_pages_with_the_mail_preview_allow_its_inline_styles_and_images_only(
    world: World, who, name, object_key
):
    client = Client()
    client.force_login(getattr(world, who))
    args = [world.objects[object_key].pk] if object_key else []
    response = client.get(reverse(name, args=args))
    assert response.status_code == 200
    assert 'id="preview-html"' in response.content.decode()
    assert policy(response) == {
        **BASE_POLICY,
        # Style attributes only (the mail's inlined CSS); <style> elements stay refused.
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:", "https:", "http:"],
    }
    assert_hardened(response)


def test_a_moderators_decision_with_an_error_shows_the_preview_under_the_same_policy(
    world: World,
):
    client = Client()
    client.force_login(world.staff)
    campaign = world.objects["submitted"]
    response = client.post(reverse("moderation_reject", args=[campaign.pk]), {})
    assert response.status_code == 400
    assert 'id="preview-html"' in response.content.decode()
    assert policy(response)["style-src-attr"] == ["'unsafe-inline'"]


def test_the_api_docs_are_a_page_of_ours_under_the_strict_policy(db):
    # Rendered by Django from the schema (config/api_docs.py): no widening, no script of its own.
    response = Client().get(reverse("api-docs"))
    assert response.status_code == 200
    html = response.content.decode()
    assert INLINE_SCRIPT.findall(html) == []
    assert STYLE_ELEMENT.findall(html) == [] and STYLE_ATTRIBUTE.findall(html) == []
    assert re.findall(r'<script src="([^"]*)"', html) == ["/static/js/scroll-regions.js"]
    assert not re.findall(r"(?:src|href)=\"(?:https?:)?//", html)  # nothing third-party
    assert policy(response) == BASE_POLICY
    assert_hardened(response)


# Style attributes a template may keep, and why.
STYLE_ATTRIBUTES_ALLOWED = {
    # Pasted into the sender's own site (shown to them escaped in a textarea): hides the
    # honeypot field there, under their policy, not ours.
    "lists/form_snippet.html",
    # A bar's width on the review page, which allows style attributes for the mail preview.
    "moderation/review.html",
}
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"\sstyle\s*=", re.IGNORECASE)
STYLE_ELEMENT = re.compile(r"<style\b", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", re.IGNORECASE)


def page_templates() -> list[Path]:
    """The templates of pages (not of e-mails, which mail clients show under no policy of ours)."""
    return [p for p in sorted(TEMPLATES.rglob("*.html")) if "email" not in p.parts]


def test_templates_have_no_inline_script_handlers_or_styles():
    found = []
    for path in page_templates():
        name = path.relative_to(TEMPLATES).as_posix()
        text = path.read_text()
        for label, pattern in (
            ("inline <script>", INLINE_SCRIPT),
            ("on...= handler", EVENT_HANDLER),
            ("<style> element", STYLE_ELEMENT),
            ("javascript: URL", JAVASCRIPT_URL),
        ):
            if pattern.search(text):
                found.append(f"{name}: {label}")
        if STYLE_ATTRIBUTE.search(text) and name not in STYLE_ATTRIBUTES_ALLOWED:
            found.append(f"{name}: style attribute (use a class in static/css/app.css)")
    assert not found, "the Content-Security-Policy would block:\n" + "\n".join(found)
    assert len(page_templates()) > 50


def test_production_sends_hsts_and_secure_cookies():
    """The production settings, loaded in their own process, answer an HTTPS request (as the
    TLS proxy forwards it) with HSTS, the policy, and cookies marked Secure."""
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": "x" * 20 + "a-random-production-secret-value-1234567890",
        "SUPPRESSION_HASH_KEY": "another-random-production-secret-value-0987654321",
        "DKIM_KEY_SECRET": "a-third-random-production-secret-value-5678901234",
        "ALLOWED_HOSTS": "mail.example.com",
        "SITE_URL": "https://mail.example.com",
        "DATABASE_URL": "sqlite:///:memory:",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    script = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
client = Client(HTTP_HOST="mail.example.com", HTTP_X_FORWARDED_PROTO="https")
secure = client.get("/healthz/")
plain = Client(HTTP_HOST="mail.example.com").get("/healthz/")
print(json.dumps({
    "status": secure.status_code,
    "headers": dict(secure.headers),
    "plain_status": plain.status_code,
    "plain_location": plain.get("Location", ""),
    "session_secure": settings.SESSION_COOKIE_SECURE,
    "csrf_secure": settings.CSRF_COOKIE_SECURE,
}))
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["status"] == 200
    headers = answer["headers"]
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    # Plain HTTP is sent to HTTPS.
    assert answer["plain_status"] == 301
    assert answer["plain_location"] == "https://mail.example.com/healthz/"
    assert answer["session_secure"] is True
    assert answer["csrf_secure"] is True
