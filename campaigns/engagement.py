"""Telling machine opens and clicks from people's. Pure.

DESIGN.md rule 7: machine opens and scanner clicks do not count as engagement. Each function takes
what the tracking endpoint knows about one request and returns "" for a person, or a short reason
code for a machine, which is stored with the event so a moderator can see why it was set apart.

Not machines: Gmail's and Yahoo's image proxies ("GoogleImageProxy", "YahooMailProxy") fetch the
pixel when a person opens the message; they hide the reader's address, not the reading.
Machines: Apple Mail Privacy Protection fetches every image on delivery from Apple's 17.0.0.0/8
network with a bare "Mozilla/5.0" user agent; corporate security gateways fetch and follow every
link before the recipient sees the message, usually within seconds of delivery.
"""

import ipaddress
import re

# Fastest plausible person: an open within 2 s, or a click within 10 s, of sending is a machine
# reading the message on its way in.
OPEN_MIN_SECONDS = 2.0
CLICK_MIN_SECONDS = 10.0
# A scanner follows every link at once; callers count the message's distinct links clicked by
# the same recipient within this many seconds and pass it as `links_clicked_recently`.
CLICK_BURST_SECONDS = 5.0

HEAD_REQUEST = "head_request"
PRIVACY_PROXY = "privacy_proxy"
SCANNER = "scanner"
TOO_FAST = "too_fast"
ALL_LINKS = "all_links"

APPLE_PROXY_NETWORK = ipaddress.ip_network("17.0.0.0/8")
APPLE_PROXY_USER_AGENT = "Mozilla/5.0"

# Security gateways, crawlers and HTTP libraries: nobody reads mail with these.
MACHINE_USER_AGENT = re.compile(
    r"""
      barracuda | mimecast | proofpoint | symantec | trend\s?micro | forcepoint | fireeye
    | ironport | cisco
    | bingpreview                             # Outlook.com's and Defender's link previews
    | microsoft\ office\ existence\ discovery # Office checking a link exists, not a page view
    | (?<!cu)bot\b                            # Googlebot, bingbot, Slackbot; not a CUBOT phone
    | crawler | spider | headlesschrome | phantomjs
    | python-requests | python-urllib | python-httpx | aiohttp | go-http-client | okhttp
    | curl/ | wget | java/ | libwww | httpclient | node-fetch | axios/
    """,
    re.IGNORECASE | re.VERBOSE,
)


def open_is_machine(
    *, user_agent: str, method: str, ip: str, seconds_since_sent: float | None
) -> str:
    """The empty string when a person opened the message, else the reason code (head_request,
    privacy_proxy, scanner, too_fast)."""
    if method.upper() == "HEAD":
        return HEAD_REQUEST
    if _is_apple_proxy(ip) or user_agent.strip() == APPLE_PROXY_USER_AGENT:
        return PRIVACY_PROXY
    if _is_machine_user_agent(user_agent):
        return SCANNER
    if seconds_since_sent is not None and seconds_since_sent < OPEN_MIN_SECONDS:
        return TOO_FAST
    return ""


def click_is_machine(
    *,
    user_agent: str,
    method: str,
    ip: str,
    seconds_since_sent: float | None,
    links_clicked_recently: int,
    links_in_message: int,
) -> str:
    """The empty string when a person clicked, else the reason code (head_request, scanner,
    too_fast, all_links).

    `links_clicked_recently` counts the message's distinct links this recipient clicked within
    CLICK_BURST_SECONDS, this one included. `ip` is taken for symmetry with opens; no address rule
    applies to clicks, since Apple's proxy fetches images, not links.
    """
    if method.upper() == "HEAD":
        return HEAD_REQUEST
    if _is_machine_user_agent(user_agent):
        return SCANNER
    if seconds_since_sent is not None and seconds_since_sent < CLICK_MIN_SECONDS:
        return TOO_FAST
    # With a single link, clicking "all of them" is just what an interested person does.
    if links_in_message >= 2 and links_clicked_recently >= links_in_message:
        return ALL_LINKS
    return ""


def _is_machine_user_agent(user_agent: str) -> bool:
    return not user_agent.strip() or MACHINE_USER_AGENT.search(user_agent) is not None


def _is_apple_proxy(ip: str) -> bool:
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return False
    # An IPv4 address seen through an IPv6 socket arrives as ::ffff:17.x.y.z.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address in APPLE_PROXY_NETWORK
