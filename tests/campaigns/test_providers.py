import pytest

from campaigns.providers import PROVIDER_LABELS, Provider, domain_of, provider_of


@pytest.mark.parametrize(
    ("address", "provider"),
    [
        ("ann@gmail.com", Provider.GMAIL),
        ("ann@googlemail.com", Provider.GMAIL),
        ("ann@yahoo.com", Provider.YAHOO),
        ("ann@yahoo.co.uk", Provider.YAHOO),
        ("ann@yahoo.fr", Provider.YAHOO),
        ("ann@yahoo.com.br", Provider.YAHOO),
        ("ann@ymail.com", Provider.YAHOO),
        ("ann@rocketmail.com", Provider.YAHOO),
        ("ann@aol.com", Provider.YAHOO),
        ("ann@aim.com", Provider.YAHOO),
        ("ann@outlook.com", Provider.MICROSOFT),
        ("ann@outlook.de", Provider.MICROSOFT),
        ("ann@hotmail.com", Provider.MICROSOFT),
        ("ann@hotmail.co.uk", Provider.MICROSOFT),
        ("ann@hotmail.it", Provider.MICROSOFT),
        ("ann@live.com", Provider.MICROSOFT),
        ("ann@live.fr", Provider.MICROSOFT),
        ("ann@live.com.au", Provider.MICROSOFT),
        ("ann@msn.com", Provider.MICROSOFT),
        ("ann@windowslive.com", Provider.MICROSOFT),
        ("ann@passport.com", Provider.MICROSOFT),
        ("ann@yandex.ru", Provider.YANDEX),
        ("ann@yandex.com", Provider.YANDEX),
        ("ann@yandex.by", Provider.YANDEX),
        ("ann@yandex.kz", Provider.YANDEX),
        ("ann@yandex.ua", Provider.YANDEX),
        ("ann@yandex.com.tr", Provider.YANDEX),
        ("ann@ya.ru", Provider.YANDEX),
        ("ann@narod.ru", Provider.YANDEX),
        ("ann@mail.ru", Provider.MAILRU),
        ("ann@inbox.ru", Provider.MAILRU),
        ("ann@list.ru", Provider.MAILRU),
        ("ann@bk.ru", Provider.MAILRU),
        ("ann@internet.ru", Provider.MAILRU),
        ("ann@my.com", Provider.MAILRU),
        ("ann@example.org", Provider.OTHER),
    ],
)
def test_consumer_domains_map_to_their_provider(address, provider):
    assert provider_of(address) is provider


@pytest.mark.parametrize(
    "address",
    [
        "ann@gmail.co",
        "ann@mygmail.com",
        "ann@gmail.com.example.org",
        "ann@yahoo.example.org",
        "ann@news.yahoo.com",
        "ann@hotmail.company.com",
        "ann@livejournal.com",
        "ann@corp.mail.ru",
        "ann@email.ru",
        "ann@yandex-team.ru",
        "ann@aol.com.example",
        "",
    ],
)
def test_lookalikes_and_subdomains_are_other(address):
    assert provider_of(address) is Provider.OTHER


def test_case_whitespace_and_trailing_dot_do_not_matter():
    assert provider_of("  Ann.Lee@GMail.COM. ") is Provider.GMAIL
    assert provider_of("YAHOO.CO.UK") is Provider.YAHOO


def test_a_bare_domain_is_accepted():
    assert provider_of("hotmail.de") is Provider.MICROSOFT
    assert provider_of("bk.ru") is Provider.MAILRU


def test_the_domain_is_taken_after_the_last_at():
    assert domain_of('"ann@gmail.com"@example.org') == "example.org"
    assert provider_of('"ann@gmail.com"@example.org') is Provider.OTHER
    assert provider_of('"ann@example.org"@gmail.com') is Provider.GMAIL


def test_every_provider_has_a_label():
    assert dict(PROVIDER_LABELS) == {
        Provider.GMAIL: "Gmail",
        Provider.YAHOO: "Yahoo",
        Provider.MICROSOFT: "Microsoft",
        Provider.YANDEX: "Yandex",
        Provider.MAILRU: "Mail.ru",
        Provider.OTHER: "Others",
    }


def test_providers_are_plain_strings_for_storage():
    assert [p.value for p in Provider] == [
        "gmail",
        "yahoo",
        "microsoft",
        "yandex",
        "mailru",
        "other",
    ]
    assert provider_of("ann@gmail.com") == "gmail"
