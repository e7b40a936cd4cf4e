"""The webhook destination guard (accounts.webhooks.address_is_public) against IPv6 forms that
carry an IPv4 address: NAT64, IPv4-compatible, IPv4-mapped, IPv4-translated, 6to4 and Teredo.
Each is judged by the IPv4 address it leads to, so none smuggles a loopback or private target."""

import ipaddress

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts import webhooks

FUZZ = hypothesis_settings(max_examples=300, deadline=None, database=None)


def _v4_public(v4: ipaddress.IPv4Address) -> bool:
    return v4.is_global and not v4.is_multicast


def _nat64(v4: ipaddress.IPv4Address) -> str:
    return str(ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | int(v4)))


def _compatible(v4: ipaddress.IPv4Address) -> str:
    return str(ipaddress.IPv6Address(int(v4)))


def _mapped(v4: ipaddress.IPv4Address) -> str:
    return f"::ffff:{v4}"


def _translated(v4: ipaddress.IPv4Address) -> str:
    return f"::ffff:0:{v4}"


def _sixtofour(v4: ipaddress.IPv4Address, host: int = 1) -> str:
    return str(ipaddress.IPv6Address((0x2002 << 112) | (int(v4) << 80) | host))


def _teredo(server: ipaddress.IPv4Address, client: ipaddress.IPv4Address, port: int = 0) -> str:
    """RFC 4380: 2001:0000:<server>:<flags>:<port ^ 0xffff>:<client ^ 0xffffffff>."""
    value = (0x20010000 << 96) | (int(server) << 64) | ((port ^ 0xFFFF) << 32)
    return str(ipaddress.IPv6Address(value | (int(client) ^ 0xFFFFFFFF)))


LOOPBACK = ipaddress.IPv4Address("127.0.0.1")
PUBLIC = ipaddress.IPv4Address("93.184.215.14")
PUBLIC_2 = ipaddress.IPv4Address("8.8.8.8")


@pytest.mark.parametrize(
    "address",
    [
        # The two from the report.
        "64:ff9b::7f00:1",
        "::127.0.0.1",
        # NAT64, well-known prefix (RFC 6052), around every private range.
        "64:ff9b::a00:1",  # 10.0.0.1
        "64:ff9b::a9fe:a9fe",  # 169.254.169.254, the cloud metadata address
        "64:ff9b::c0a8:1",  # 192.168.0.1
        "64:ff9b::6440:1",  # 100.64.0.1 (shared address space)
        "64:ff9b::",  # 0.0.0.0
        "64:ff9b::e000:1",  # 224.0.0.1 (multicast)
        # NAT64, local-use prefix (RFC 8215): never on the internet, whatever it embeds.
        "64:ff9b:1::7f00:1",
        "64:ff9b:1:7f00:0:100::",
        "64:ff9b:1::808:808",
        # IPv4-compatible (deprecated ::a.b.c.d), mapped and translated forms.
        "::10.0.0.1",
        "::169.254.169.254",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:0:127.0.0.1",
        "::ffff:0:169.254.169.254",
        # 6to4 (2002:aabb:ccdd::/48 leads to aa.bb.cc.dd).
        "2002:7f00:1::1",
        "2002:a00:1::",
        "2002:a9fe:a9fe:1::5",
        # Teredo whose obfuscated client is the loopback, or whose server is private.
        _teredo(PUBLIC, LOOPBACK),
        _teredo(PUBLIC, ipaddress.IPv4Address("10.0.0.1")),
        _teredo(ipaddress.IPv4Address("192.168.1.1"), PUBLIC_2),
        # Plain IPv6 that never was public.
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
        "2001:db8::1",
    ],
)
def test_wrapped_and_local_addresses_are_not_public(address):
    assert webhooks.address_is_public(address) is False


@pytest.mark.parametrize(
    "address",
    [
        "93.184.215.14",
        "2606:2800:220:1:248:1893:25c8:1946",
        # An IPv6-only network's DNS64 answers with the NAT64 form of a public host: still usable.
        "64:ff9b::5db8:d70e",
        "::ffff:93.184.215.14",
        "2002:5db8:d70e::1",
        _teredo(PUBLIC, PUBLIC_2, port=40000),
    ],
)
def test_wrapped_public_addresses_stay_public(address):
    assert webhooks.address_is_public(address) is True


@pytest.mark.parametrize(
    "url",
    [
        "http://[64:ff9b::7f00:1]/",
        "http://[::127.0.0.1]/",
        "http://[::ffff:0:7f00:1]/hook",
        "https://[2002:a9fe:a9fe::1]:8443/hook",
        f"http://[{_teredo(PUBLIC, LOOPBACK)}]/",
    ],
)
def test_wrapped_private_literals_are_refused_in_urls(settings, url):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    with pytest.raises(webhooks.UnsafeDestination, match="private or local"):
        webhooks.url_check(url)


def test_a_hostname_resolving_to_a_nat64_loopback_is_refused(settings, monkeypatch):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    monkeypatch.setattr(webhooks, "_resolve", lambda host, port: ["64:ff9b::7f00:1"])
    with pytest.raises(webhooks.UnsafeDestination, match="64:ff9b::7f00:1"):
        webhooks.destination_resolve("https://hooks.example.com/x")


ipv4s = st.integers(min_value=0, max_value=2**32 - 1).map(ipaddress.IPv4Address)
# Half the draws from the ranges an attacker aims at, so the refused side is well covered.
targets = st.one_of(
    ipv4s,
    st.sampled_from(["127.0.0.0/8", "10.0.0.0/8", "169.254.0.0/16", "192.168.0.0/16", "0.0.0.0/8"])
    .map(ipaddress.IPv4Network)
    .flatmap(
        lambda net: st.integers(0, net.num_addresses - 1).map(lambda i: net.network_address + i)
    ),
)


@FUZZ
@given(v4=targets)
def test_every_single_wrapping_is_judged_by_the_ipv4_inside(v4):
    expected = _v4_public(v4)
    for wrap in (_nat64, _compatible, _mapped, _translated, _sixtofour):
        assert webhooks.address_is_public(wrap(v4)) is expected, wrap(v4)
    assert webhooks.address_is_public(str(v4)) is expected


@FUZZ
@given(server=targets, client=targets, port=st.integers(0, 0xFFFF))
def test_teredo_is_public_only_when_server_and_client_are(server, client, port):
    expected = _v4_public(server) and _v4_public(client)
    assert webhooks.address_is_public(_teredo(server, client, port)) is expected


@FUZZ
@given(v4=targets, suffix=st.integers(0, 2**80 - 1))
def test_nothing_under_the_local_use_nat64_prefix_is_public(v4, suffix):
    address = ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b:1::")) | suffix)
    assert webhooks.address_is_public(str(address)) is False
