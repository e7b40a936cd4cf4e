import pytest

from campaigns.tokens import BadToken, MessageTokens, TokenData, TokenKind, pack, unpack


def test_a_token_carries_its_kind_campaign_subscriber_link_and_test_flag():
    data = TokenData(TokenKind.CLICK, campaign_id=12, subscriber_id=2**40, link=7, is_test=True)

    assert unpack(pack(data), kind=TokenKind.CLICK) == data


def test_a_tampered_token_is_refused():
    token = MessageTokens(campaign_id=5, subscriber_id=6).unsubscribe()
    for position in (0, 10, len(token) - 1):
        flipped = (
            token[:position] + ("A" if token[position] != "A" else "B") + token[position + 1 :]
        )
        with pytest.raises(BadToken):
            unpack(flipped, kind=TokenKind.UNSUBSCRIBE)


@pytest.mark.parametrize("token", ["", "abc", "x" * 80, "AAAA==", "ab.cd", "a b"])
def test_garbage_is_refused(token):
    with pytest.raises(BadToken):
        unpack(token, kind=TokenKind.UNSUBSCRIBE)


def test_characters_outside_the_alphabet_are_refused_not_skipped():
    token = MessageTokens(campaign_id=5, subscriber_id=6).report()

    with pytest.raises(BadToken):
        unpack(token[:5] + "!" + token[5:], kind=TokenKind.REPORT)


def test_a_token_of_another_kind_is_refused():
    token = MessageTokens(campaign_id=5, subscriber_id=6).report()

    with pytest.raises(BadToken):
        unpack(token, kind=TokenKind.UNSUBSCRIBE)


def test_tokens_signed_with_a_retired_key_still_work(settings):
    settings.SECRET_KEY = "old-key-" + "x" * 40
    token = MessageTokens(campaign_id=5, subscriber_id=6).unsubscribe()
    settings.SECRET_KEY = "new-key-" + "y" * 40
    with pytest.raises(BadToken):
        unpack(token, kind=TokenKind.UNSUBSCRIBE)

    settings.SECRET_KEY_FALLBACKS = ["old-key-" + "x" * 40]

    assert unpack(token, kind=TokenKind.UNSUBSCRIBE).subscriber_id == 6


def test_ids_must_fit():
    with pytest.raises(ValueError):
        pack(TokenData(TokenKind.OPEN, campaign_id=2**48, subscriber_id=1))


def test_the_message_reference_is_the_same_for_every_attempt():
    first = MessageTokens(campaign_id=5, subscriber_id=6).message_ref()

    assert first == MessageTokens(campaign_id=5, subscriber_id=6).message_ref()
    assert first != MessageTokens(campaign_id=5, subscriber_id=7).message_ref()


def test_each_message_token_reads_back_as_its_kind_and_link():
    tokens = MessageTokens(campaign_id=9, subscriber_id=10, is_test=True)

    assert unpack(tokens.click(3), kind=TokenKind.CLICK) == TokenData(
        TokenKind.CLICK, 9, 10, link=3, is_test=True
    )
    assert unpack(tokens.unsubscribe(), kind=TokenKind.UNSUBSCRIBE) == TokenData(
        TokenKind.UNSUBSCRIBE, 9, 10, is_test=True
    )


def test_clicks_in_one_go_are_the_click_tokens_one_by_one():
    from campaigns.tokens import MessageTokens

    for is_test in (False, True):
        tokens = MessageTokens(campaign_id=2**47 - 1, subscriber_id=12345, is_test=is_test)
        assert tokens.clicks(300) == [tokens.click(i) for i in range(300)]
    assert tokens.clicks(0) == []


def _hmac_token(kind, campaign_id, subscriber_id, link=0, flags=0):
    """A token as they were made before BLAKE2b: HMAC-SHA256 under the older key, no flag."""
    import base64
    import hashlib
    import hmac
    import struct

    from django.conf import settings

    secret = settings.SECRET_KEY.encode()
    key = hashlib.sha256(b"consentmail.campaigns.tokens\x00" + secret).digest()
    payload = struct.pack(
        ">B6s6sH",
        (kind << 4) | flags,
        campaign_id.to_bytes(6, "big"),
        subscriber_id.to_bytes(6, "big"),
        link,
    )
    raw = payload + hmac.digest(key, payload, "sha256")[:12]
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_links_already_sent_with_hmac_tokens_still_verify():
    old = _hmac_token(TokenKind.CLICK, 77, 88, link=4)

    assert unpack(old, kind=TokenKind.CLICK) == TokenData(TokenKind.CLICK, 77, 88, link=4)
    assert old != MessageTokens(campaign_id=77, subscriber_id=88).click(4)


def test_a_token_moved_to_the_other_mac_scheme_is_refused():
    import base64

    for token in (
        MessageTokens(campaign_id=5, subscriber_id=6).unsubscribe(),
        _hmac_token(TokenKind.UNSUBSCRIBE, 5, 6),
    ):
        raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        raw[0] ^= 0x2  # the MAC scheme's flag
        moved = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
        with pytest.raises(BadToken):
            unpack(moved, kind=TokenKind.UNSUBSCRIBE)
