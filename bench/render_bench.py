"""Render 100,000 personalised messages of a realistic 30 KB HTML campaign; print messages/second.

    .venv/bin/python bench/render_bench.py [--messages 100000] [--mime 5000] [--rounds 10]

The ceiling, measured in the same run: the same template rendered by bare Jinja2 (autoescape
on) with the same merge values, and nothing else (no tokens, no footer, no text part, no
headers). Ours and the ceiling are timed in alternating rounds, so that a noisy machine slows
both alike; the ratio printed is our rate as a share of bare Jinja2's.

Rendering is what a delivery worker does per recipient once the campaign is compiled: merge
tags, per-recipient signed tokens for every tracked link, the unsubscribe and report-spam links,
the consent sentence, the open pixel and the headers. It needs no database. The compile (CSS
inlining, sanitising, link numbering) is timed separately: it happens once per campaign.
`--mime` also times turning that many rendered messages into the bytes handed to SMTP
(campaigns.mime, and Django's EmailMultiAlternatives with Python's email package, which the
ESP backends use), reported apart.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIRST = ["Anna", "Boris", "Chloe", "Dmitri", "Emma", "Farid", "Grace", "Hugo", "Ирина", "Олег"]
CITIES = ["Leeds", "Paris", "Kazan", "Berlin", "Madrid", "Oslo"]
SOURCES = ["web_form", "form_checkbox", "paper_form", "client_reconfirmed", "api"]

PRODUCT = """
<tr><td class="product" style="padding:12px 0">
  <table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr>
    <td width="120" valign="top">
      <a href="https://shop.acme.example/p/{n}?utm_source=news&amp;utm_medium=email">
      <img src="https://cdn.acme.example/img/{n}.jpg" width="110" height="110"
           alt="Product {n}"></a></td>
    <td valign="top" style="padding-left:12px">
      <h3 class="title">
        <a href="https://shop.acme.example/p/{n}?utm_source=news&amp;utm_medium=email">
        Hand-made item number {n}</a></h3>
      <p class="body">A short description of product {n}: natural materials, made in our workshop,
      shipped in recycled packaging. {{{{ subscriber.first_name | default("Friend") }}}}, members in
      {{{{ subscriber.attributes.city | default("your city") }}}} get free delivery this week.</p>
      <p><a class="button" href="https://shop.acme.example/cart/add/{n}">Add to cart</a>
         <span class="price">€{price}</span></p>
    </td></tr></table>
</td></tr>
"""


def campaign_html(target_bytes: int = 30 * 1024) -> str:
    """A newsletter like the ones people send: a <style> block, tables, images, ~40 links."""
    head = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>November</title><style>
      body { font-family: Georgia, serif; color: #222; }
      .wrapper { max-width: 640px; margin: 0 auto; background: #fff; }
      h1 { font-size: 28px; color: #7c2d12; margin: 0 0 12px 0; }
      h3.title { font-size: 18px; margin: 0 0 6px 0; }
      h3.title a { color: #111; text-decoration: none; }
      p.body { font-size: 15px; line-height: 1.5; color: #333; }
      a.button { background: #7c2d12; color: #fff; padding: 8px 14px; border-radius: 4px;
                 text-decoration: none; font-weight: bold; }
      .price { font-size: 16px; color: #15803d; margin-left: 12px; }
    </style></head><body><table class="wrapper" role="presentation" width="100%"><tr><td>
    <h1>November at Acme, {{ subscriber.first_name | default("friend") }}</h1>
    <p class="body">Hello {{ subscriber.name }}, here is what is new in our workshop this month.
    Read it <a href="https://acme.example/news/november">on the web</a>.</p>
    <table role="presentation" width="100%">"""
    tail = """</table><p class="body">See you soon, the Acme team.
    <a href="https://acme.example/">acme.example</a></p></td></tr></table></body></html>"""
    products, n = [], 0
    rng = random.Random(7)
    while len(head) + len(tail) + sum(map(len, products)) < target_bytes:
        n += 1
        products.append(PRODUCT.format(n=n, price=f"{rng.randint(5, 90)}.{rng.randint(0, 99):02d}"))
    return head + "".join(products) + tail


def recipients(count: int):
    from campaigns.rendering import Recipient

    rng = random.Random(42)
    start = datetime(2025, 1, 1)
    for i in range(count):
        first = rng.choice(FIRST)
        yield Recipient(
            subscriber_id=1_000_000 + i,
            email=f"reader.{i}@example.org",
            name=f"{first} Reader{i}",
            phone="",
            attributes={"city": rng.choice(CITIES)} if i % 3 else {},
            list_id=1 + i % 2,
            list_name="Monthly news" if i % 2 else "Workshop diary",
            consent_source=rng.choice(SOURCES),
            consented_at=start + timedelta(days=i % 600),
            track_opens=i % 10 != 0,
            track_clicks=i % 10 != 0,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--mime", type=int, default=5_000, help="messages to serialise (0: skip)")
    parser.add_argument(
        "--rounds", type=int, default=10, help="alternating rounds of ours and bare Jinja2"
    )
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ.setdefault("SITE_URL", "https://app.consentmail.example")
    import django

    django.setup()
    from campaigns.mail import email_message
    from campaigns.rendering import CampaignContent, compile_campaign

    html = campaign_html()
    content = CampaignContent(
        campaign_id=4242,
        account_id=17,
        subject="November at Acme, {{ subscriber.first_name | default('friend') }}",
        from_name="Acme Workshop",
        from_email="news@news.acme.example",
        reply_to="hello@acme.example",
        html_body=html,
        text_body="",
        company_name="Acme Workshop Ltd",
        postal_address="12 Mill Lane, Hebden Bridge HX7 8AB, United Kingdom",
    )
    started = time.perf_counter()
    compiled = compile_campaign(content)
    compile_seconds = time.perf_counter() - started

    people = list(recipients(args.messages))
    from jinja2 import Environment

    from campaigns.merge import merge_context

    bare = Environment(autoescape=True).from_string(html)

    def bare_render(person) -> str:
        return bare.render(
            merge_context(
                email=person.email,
                name=person.name,
                phone=person.phone,
                attributes=person.attributes,
                list_name=person.list_name,
                company_name=content.company_name,
            )
        )

    total_bytes = bare_bytes = 0
    render_seconds = bare_seconds = 0.0
    rounds = max(1, min(args.rounds, len(people)))
    for start in range(rounds):
        chunk = people[start::rounds]
        started = time.perf_counter()
        for person in chunk:
            message = compiled.render(person)
            total_bytes += len(message.html)
        render_seconds += time.perf_counter() - started
        started = time.perf_counter()
        for person in chunk:
            bare_bytes += len(bare_render(person))
        bare_seconds += time.perf_counter() - started

    print(
        f"campaign HTML: {len(html.encode()) / 1024:.1f} KB, {len(compiled.links)} distinct links,"
    )
    compile_ms = compile_seconds * 1000
    print(f"  {len(compiled.merge)} distinct merge tags; compiled once in {compile_ms:.1f} ms")
    print(
        f"rendered {len(people):,} messages in {render_seconds:.2f} s: "
        f"{len(people) / render_seconds:,.0f} messages/s on one core "
        f"({render_seconds / len(people) * 1e6:.0f} µs each, "
        f"average HTML {total_bytes / len(people) / 1024:.1f} KB)"
    )
    ours = len(people) / render_seconds
    ceiling = len(people) / bare_seconds
    print(
        f"ceiling: bare Jinja2 rendered the same template with the same merge values "
        f"{ceiling:,.0f} messages/s ({bare_seconds / len(people) * 1e6:.0f} µs each, "
        f"HTML {bare_bytes / len(people) / 1024:.1f} KB; no tokens, footer, text part or headers)"
    )
    print(
        f"figure {ours:,.0f} messages/s, ceiling {ceiling:,.0f} messages/s: "
        f"ratio {ours / ceiling:.0%} of bare Jinja2"
    )
    from moderation.analyser import ContentUnderReview, analyse_content

    review = ContentUnderReview(
        subject=content.subject,
        from_name=content.from_name,
        from_email=content.from_email,
        html_body=html,
        text_body="",
        company_name=content.company_name,
        postal_address=content.postal_address,
    )
    analyse_content(review)  # the rules compile on first use
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        analyse_content(review)
        runs.append(time.perf_counter() - started)
    print(f"content analyser on the same campaign: {min(runs) * 1000:.1f} ms (best of 5)")
    if args.mime:
        from campaigns.mime import raw_message

        sample = people[: args.mime]
        started = time.perf_counter()
        for person in sample:
            raw_message(compiled.render(person), eight_bit=True)
        ours_seconds = time.perf_counter() - started
        print(
            f"render + MIME bytes as the SMTP path sends them (campaigns.mime) for "
            f"{len(sample):,}: {len(sample) / ours_seconds:,.0f} messages/s "
            f"({ours_seconds / len(sample) * 1e6:.0f} µs each)"
        )
        started = time.perf_counter()
        for person in sample:
            email_message(compiled.render(person)).message().as_bytes()
        mime_seconds = time.perf_counter() - started
        print(
            f"render + MIME bytes through Django's EmailMultiAlternatives (the ESP path) for "
            f"{len(sample):,}: {len(sample) / mime_seconds:,.0f} messages/s "
            f"({mime_seconds / len(sample) * 1e6:.0f} µs each)"
        )


if __name__ == "__main__":
    main()
