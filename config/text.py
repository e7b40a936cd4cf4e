"""Single-line text that may end up in an e-mail header (a subject, a From name, a company or list
name): one check, shared by every service that takes such a value.

Refused: the C0 controls (NUL, CR, LF and the rest), DEL, the C1 controls (U+0080-U+009F) and the
Unicode line and paragraph separators (U+2028, U+2029). Any of them in a header is either an
injection attempt (CR, LF: a second header, a second address; bare CR also ends SMTP DATA on some
relays) or a display trick, and none belongs in a name or a subject. A TAB is the one exception:
it is ordinary whitespace pasted from a spreadsheet, harmless in a header, so it is folded to a
space rather than refused. Text that reads as an RFC 2047 encoded word is refused too: readers
would see it decoded, as other text than the sender typed and the moderator read.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext as _

from config.errors import ApplicationError

# \t (0x09) is left out: it is folded to a space below.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
# The same set with TAB, for code that must make a value one line rather than refuse it.
CONTROL_OR_TAB = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


# An RFC 2047 encoded word: mail programs decode it, so typed into a name or subject it would be
# shown to readers as other text than what the sender typed and a moderator read.
ENCODED_WORD = re.compile(r"=\?[^?\s]*\?[bBqQ]\?[^?\s]*\?=")


def clean_header_text(value: str, *, field: str) -> str:
    """`value` with each TAB made a space; ApplicationError naming `field` if it holds any other
    control character or a line or paragraph separator (the message names it as U+XXXX), or
    something that reads as an RFC 2047 encoded word ("=?utf-8?b?...?=")."""
    found = CONTROL_CHARACTERS.search(value)
    if found is not None:
        raise ApplicationError(
            _(
                "Use a single line of plain text: this contains a line break or a control "
                "character (%(code)s)."
            )
            % {"code": f"U+{ord(found.group()):04X}"},
            field=field,
        )
    if ENCODED_WORD.search(value):
        raise ApplicationError(
            _("Remove the encoded word (“=?…?=”): mail programs would show it as different text."),
            field=field,
        )
    return value.replace("\t", " ")


def one_line(value: str) -> str:
    """`value` as one header-safe line, for text already stored: every control character and
    line separator becomes a space, runs of whitespace one space, the ends trimmed."""
    return " ".join(CONTROL_OR_TAB.sub(" ", value).split())


def display_name(value: str) -> str:
    """`value` as the display name of an address that Django or an ESP will write: one line, and
    a WORD JOINER after each "=?" of an encoded-word lookalike (refused on input, so only in a
    value stored before that), so no reader decodes it into other text, or into a line break."""
    return ENCODED_WORD.sub(lambda match: match.group().replace("=?", "=\u2060?"), one_line(value))
