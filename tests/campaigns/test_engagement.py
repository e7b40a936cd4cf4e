import pytest

from campaigns.engagement import (
    CLICK_BURST_SECONDS,
    CLICK_MIN_SECONDS,
    OPEN_MIN_SECONDS,
    click_is_machine,
    open_is_machine,
)

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
PEOPLE = [
    CHROME,
    # Gmail's and Yahoo's proxies fetch the pixel when a person opens the message.
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
    "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17029; Pro)",
    "Mozilla/4.0 (compatible; ms-office; MSOffice 16)",
    "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.3.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Mobile Safari/537.36",
]
MACHINES = [
    "Barracuda Sentinel (EE)",
    "Mimecast URL Protect",
    "Proofpoint URL Defense",
    "Mozilla/5.0 (compatible; Symantec Web Security)",
    "Mozilla/5.0 Trend Micro Email Security",
    "Mozilla/5.0 TrendMicro",
    "Forcepoint Email Security",
    "FireEye ETP",
    "Cisco IronPort",
    "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/534+ (KHTML, like Gecko) BingPreview/1.0b",
    "Microsoft Office Existence Discovery",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Mozilla/5.0 (compatible; Baiduspider/2.0)",
    "SiteCrawler/1.0",
    "python-requests/2.31.0",
    "Python-urllib/3.11",
    "curl/8.4.0",
    "Wget/1.21.4",
    "Go-http-client/1.1",
    "okhttp/4.9.0",
    "Java/17.0.2",
    "libwww-perl/6.67",
    "Apache-HttpClient/4.5.13",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0",
    "",
    "   ",
]


def open_from(*, user_agent=CHROME, method="GET", ip="203.0.113.9", seconds_since_sent=3600.0):
    return open_is_machine(
        user_agent=user_agent, method=method, ip=ip, seconds_since_sent=seconds_since_sent
    )


def click_from(
    *,
    user_agent=CHROME,
    method="GET",
    ip="203.0.113.9",
    seconds_since_sent=3600.0,
    links_clicked_recently=1,
    links_in_message=3,
):
    return click_is_machine(
        user_agent=user_agent,
        method=method,
        ip=ip,
        seconds_since_sent=seconds_since_sent,
        links_clicked_recently=links_clicked_recently,
        links_in_message=links_in_message,
    )


def test_the_windows_are_the_designed_ones():
    assert (OPEN_MIN_SECONDS, CLICK_MIN_SECONDS, CLICK_BURST_SECONDS) == (2, 10, 5)


@pytest.mark.parametrize("user_agent", PEOPLE)
def test_people_and_the_gmail_and_yahoo_proxies_open_as_people(user_agent):
    assert open_from(user_agent=user_agent) == ""


@pytest.mark.parametrize("user_agent", MACHINES)
def test_scanners_bots_and_http_libraries_open_as_scanners(user_agent):
    assert open_from(user_agent=user_agent) == "scanner"


@pytest.mark.parametrize("method", ["HEAD", "head"])
def test_a_head_request_is_not_an_open(method):
    assert open_from(method=method) == "head_request"


@pytest.mark.parametrize("ip", ["17.58.101.7", "17.0.0.1", "::ffff:17.58.101.7", " 17.1.2.3 "])
def test_apples_network_is_the_privacy_proxy(ip):
    assert open_from(ip=ip) == "privacy_proxy"


@pytest.mark.parametrize("ip", ["18.0.0.1", "16.255.255.255", "2001:db8::17", "", "unknown"])
def test_other_addresses_are_not_the_privacy_proxy(ip):
    assert open_from(ip=ip) == ""


def test_the_bare_mozilla_user_agent_is_the_privacy_proxy():
    assert open_from(user_agent="Mozilla/5.0") == "privacy_proxy"
    assert open_from(user_agent=" Mozilla/5.0 ") == "privacy_proxy"
    assert open_from(user_agent="Mozilla/5.0 (Macintosh)") == ""


@pytest.mark.parametrize(
    ("seconds", "reason"),
    [(0.0, "too_fast"), (1.9, "too_fast"), (2.0, ""), (60.0, ""), (None, "")],
)
def test_an_open_right_after_sending_is_too_fast(seconds, reason):
    assert open_from(seconds_since_sent=seconds) == reason


def test_open_reasons_are_checked_in_order():
    assert open_from(method="HEAD", ip="17.1.2.3", user_agent="curl/8", seconds_since_sent=0) == (
        "head_request"
    )
    assert open_from(ip="17.1.2.3", user_agent="curl/8", seconds_since_sent=0) == "privacy_proxy"
    assert open_from(user_agent="curl/8", seconds_since_sent=0) == "scanner"


@pytest.mark.parametrize("user_agent", PEOPLE)
def test_people_click_as_people(user_agent):
    assert click_from(user_agent=user_agent) == ""


@pytest.mark.parametrize("user_agent", MACHINES)
def test_scanners_click_as_scanners(user_agent):
    assert click_from(user_agent=user_agent) == "scanner"


def test_a_head_request_is_not_a_click():
    assert click_from(method="HEAD") == "head_request"


def test_apples_network_is_no_reason_to_doubt_a_click():
    assert click_from(ip="17.58.101.7") == ""


@pytest.mark.parametrize(
    ("seconds", "reason"),
    [(0.5, "too_fast"), (9.9, "too_fast"), (10.0, ""), (600.0, ""), (None, "")],
)
def test_a_click_right_after_sending_is_too_fast(seconds, reason):
    assert click_from(seconds_since_sent=seconds) == reason


@pytest.mark.parametrize(
    ("recently", "links", "reason"),
    [
        (3, 3, "all_links"),
        (4, 3, "all_links"),
        (2, 2, "all_links"),
        (2, 3, ""),
        (1, 3, ""),
        (1, 1, ""),  # one link: clicking it is what an interested person does
        (0, 0, ""),
    ],
)
def test_every_link_clicked_in_a_burst_is_a_scanner(recently, links, reason):
    assert click_from(links_clicked_recently=recently, links_in_message=links) == reason


def test_click_reasons_are_checked_in_order():
    burst = {"links_clicked_recently": 3, "links_in_message": 3}

    assert click_from(method="HEAD", user_agent="curl/8", seconds_since_sent=1, **burst) == (
        "head_request"
    )
    assert click_from(user_agent="curl/8", seconds_since_sent=1, **burst) == "scanner"
    assert click_from(seconds_since_sent=1, **burst) == "too_fast"
    assert click_from(seconds_since_sent=60, **burst) == "all_links"
