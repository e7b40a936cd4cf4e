"""DKIM-sign the final bytes of realistic campaign messages; print signatures/second.

    .venv/bin/python bench/dkim_bench.py [--messages 2000] [--pure 200]

The messages are what the SMTP path sends (campaigns.mime.raw_message of the render bench's
30 KB newsletter, one per recipient), signed as accounts.dkim.dkim_sign does: dkimpy
canonicalises (relaxed/relaxed), hashes the body and the signed headers and builds the
DKIM-Signature field; OpenSSL (`cryptography`) makes the RSA-2048 signature. It needs no database
(the key is loaded once, as the per-process cache does).

Printed, each as signatures/second and milliseconds per message:
  figure   accounts.dkim.sign_with, what every SMTP message now costs
  ceiling  the work no DKIM signer can skip: SHA-256 of the message bytes plus one RSA-2048
           signature in OpenSSL (no canonicalisation, no header parsing)
  ratio    figure / ceiling
  dkimpy   dkim.sign as is (its pure-Python RSA), over `--pure` messages, for comparison: it
           says how much of dkimpy's cost the RSA is
and how much of the figure dkimpy's body canonicalisation and message parse take.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--pure", type=int, default=200, help="messages for dkimpy as is (0: skip)")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ.setdefault("SITE_URL", "https://app.consentmail.example")
    import django

    django.setup()
    import dkim as dkimpy
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
    from render_bench import campaign_html, recipients

    from accounts import dkim
    from campaigns.mime import raw_message
    from campaigns.rendering import CampaignContent, compile_campaign

    compiled = compile_campaign(
        CampaignContent(
            campaign_id=4242,
            account_id=17,
            subject="November at Acme, {{ subscriber.first_name | default('friend') }}",
            from_name="Acme Workshop",
            from_email="news@news.acme.example",
            reply_to="hello@acme.example",
            html_body=campaign_html(),
            text_body="",
            company_name="Acme Workshop Ltd",
            postal_address="12 Mill Lane, Hebden Bridge HX7 8AB, United Kingdom",
        )
    )
    messages = [raw_message(compiled.render(person)) for person in recipients(args.messages)]
    size = sum(map(len, messages)) / len(messages)
    pair = dkim.generate_key_pair()
    key = dkim.signing_key_from(
        selector="cm202612bench",
        domain="news.acme.example",
        encrypted_private_key=pair.encrypted_private_key,
    )

    def rate(sign, batch) -> float:
        started = time.perf_counter()
        for message in batch:
            sign(message)
        return len(batch) / (time.perf_counter() - started)

    def ceiling_sign(message: bytes) -> bytes:
        digest = hashlib.sha256(message).digest()
        return key.private_key.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))

    def dkimpy_sign(message: bytes) -> bytes:
        return dkimpy.sign(
            message,
            key.selector.encode(),
            key.domain.encode(),
            key.pem,
            canonicalize=dkim.CANONICALIZATION,
            include_headers=list(dkim.SIGNED_HEADERS),
        )

    # Warm up both paths, then the timed runs, figure and ceiling interleaved on the same data.
    rate(lambda m: dkim.sign_with(m, key), messages[:20])
    rate(ceiling_sign, messages[:20])
    figure = rate(lambda m: dkim.sign_with(m, key), messages)
    ceiling = rate(ceiling_sign, messages)

    print(f"{len(messages)} messages of {size / 1024:.1f} KB on average, RSA-2048, rsa-sha256")
    print(f"figure   accounts.dkim.sign_with : {figure:8.0f} signatures/s ({1000 / figure:.2f} ms)")
    print(
        f"ceiling  SHA-256 + OpenSSL RSA   : {ceiling:8.0f} signatures/s ({1000 / ceiling:.2f} ms)"
    )
    print(f"ratio    figure / ceiling        : {figure / ceiling:.2f}")
    # Where the rest of the figure goes: dkimpy's relaxed body canonicalisation (regular
    # expressions over the whole body) and its parse of the message into lines.
    from dkim.canonicalization import Relaxed

    bodies = [message.partition(b"\r\n\r\n")[2] for message in messages]
    body_rate = rate(Relaxed.canonicalize_body, bodies)
    parse_rate = rate(dkimpy.DKIM, messages)
    print(
        f"  of which dkimpy's relaxed body canonicalisation {1000 / body_rate:.2f} ms,"
        f" its message parse {1000 / parse_rate:.2f} ms"
    )
    if args.pure:
        pure = rate(dkimpy_sign, messages[: args.pure])
        print(
            f"dkimpy   dkim.sign as is         : {pure:8.0f} signatures/s ({1000 / pure:.2f} ms)"
            f" over {min(args.pure, len(messages))} messages;"
            f" ours is {figure / pure:.1f}x faster"
        )


if __name__ == "__main__":
    main()
