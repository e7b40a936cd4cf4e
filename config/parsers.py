"""The API's JSON parser (settings: DEFAULT_PARSER_CLASSES). Its own module: config.api imports
rest_framework.views, which reads that setting when it is first imported."""

import io
import re

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# A lone surrogate can only arrive escaped (raw UTF-8 cannot encode one).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD]([89abAB]|[c-fC-F])[0-9a-fA-F]{2}")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, answering 400 where DRF's would lead to a 500: nesting deep enough to
    exhaust the stack (RecursionError is no ValueError), and a lone surrogate (`"\\ud800"`),
    valid JSON but not text: no response echoing it can be encoded, no database stores it."""

    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read() if stream is not None else b""
        try:
            data = super().parse(io.BytesIO(body), media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - the document is nested too deeply.") from exc
        if _escapes_a_lone_surrogate(body) and holds_lone_surrogate(data):
            raise ParseError(
                "JSON parse error - a string holds a lone surrogate (\\ud800-\\udfff), "
                "which is not text."
            )
        return data


def _escapes_a_lone_surrogate(body: bytes) -> bool:
    """Whether the body escapes a high surrogate not followed by a low one, or a low one not
    preceded by a high one: an emoji's escaped pair is fine. A literal backslash before "ud800"
    looks the same here, so a True only sends the parsed data to `holds_lone_surrogate`."""
    low_expected_at = None
    for escape in _SURROGATE_ESCAPE.finditer(body):
        is_high = escape.group(1) in b"89abAB"
        if low_expected_at is not None:
            if is_high or escape.start() != low_expected_at:
                return True
            low_expected_at = None
        elif is_high:
            low_expected_at = escape.end()
        else:
            return True
    return low_expected_at is not None


def holds_lone_surrogate(data) -> bool:
    """Whether any string in parsed JSON (keys included) holds a lone surrogate."""
    pending = [data]  # iterative: the document may be nested nearly as deep as the stack
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str) and _LONE_SURROGATE.search(value):
            return True
    return False
