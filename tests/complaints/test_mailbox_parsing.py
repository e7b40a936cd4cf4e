"""A long mailbox run parses in worker processes (complaints.mailboxes._parsed, issue 19):
every message still comes with what parsing it here makes of it, in the mailbox's order, also
when the reader fails midway, a worker dies or none can be started."""

import os
import sys

import pytest

from campaigns.tokens import MessageTokens
from complaints import mailboxes
from complaints.mailboxes import MailboxError, StoredMessage, _parse, _parsed
from tests.complaints.data import DATA, render


@pytest.fixture(autouse=True)
def _small_chunks(monkeypatch):
    monkeypatch.setattr(mailboxes, "PARSE_CHUNK_MESSAGES", 3)


def stored_messages() -> list[StoredMessage]:
    """Every kind of report, each about its own message, and one over the size limit."""
    messages = []
    for index, path in enumerate(sorted(DATA.glob("*.eml")) * 2):
        tokens = MessageTokens(campaign_id=7, subscriber_id=index + 1)
        raw = render(path.stem, tokens=tokens, recipient=f"r{index}@example.org")
        messages.append(StoredMessage(f"new/{index}", raw, len(raw)))
    messages.insert(5, StoredMessage("new/big", None, 10**9))
    return messages


def here(messages):
    return [(message, _parse(message)) for message in messages]


@pytest.mark.parametrize("processes", [0, 1, 2])
def test_each_message_comes_in_order_with_what_parsing_it_here_makes_of_it(processes):
    messages = stored_messages()

    assert list(_parsed(messages, processes)) == here(messages)


# Forked workers see this module and mailboxes as they are at the fork: monkeypatched, and with
# these values set.
_PARENT = os.getpid()
_PIDS_FILE = None


def _recording_parse_chunk(chunk):
    with open(_PIDS_FILE, "a") as pids:
        pids.write(f"{os.getpid()}\n")
    return _real_parse_chunk(chunk)


def _dying_parse_chunk(chunk):
    if os.getpid() != _PARENT:
        os._exit(1)  # a worker killed (out of memory)
    return _real_parse_chunk(chunk)


_real_parse_chunk = mailboxes._parse_chunk


def test_the_workers_parse_in_other_processes(monkeypatch, tmp_path):
    monkeypatch.setattr(sys.modules[__name__], "_PIDS_FILE", tmp_path / "pids")
    monkeypatch.setattr(mailboxes, "_parse_chunk", _recording_parse_chunk)
    messages = stored_messages()

    assert list(_parsed(messages, 2)) == here(messages)
    pids = (tmp_path / "pids").read_text().split()
    # The first chunk parsed here, one by one; the other chunks in the workers.
    assert len(pids) == -(-(len(messages) - 3) // 3)
    assert str(os.getpid()) not in pids


def test_when_reading_fails_what_was_read_comes_before_the_error():
    messages = stored_messages()[:11]

    def reader():
        yield from messages
        raise MailboxError("Lost the IMAP connection")

    given = []
    with pytest.raises(MailboxError, match="Lost the IMAP connection"):
        for pair in _parsed(reader(), 2):
            given.append(pair)

    assert given == here(messages)


def test_when_a_worker_dies_its_messages_are_parsed_here(monkeypatch, caplog):
    monkeypatch.setattr(sys.modules[__name__], "_PARENT", os.getpid())
    monkeypatch.setattr(mailboxes, "_parse_chunk", _dying_parse_chunk)
    messages = stored_messages()

    assert list(_parsed(messages, 2)) == here(messages)
    assert "parsing in this process from here" in caplog.text


def test_when_no_worker_can_be_started_all_is_parsed_here(monkeypatch, caplog):
    def refuse(*args, **kwargs):
        raise AssertionError("daemonic processes are not allowed to have children")

    monkeypatch.setattr(mailboxes.ProcessPoolExecutor, "submit", refuse)
    messages = stored_messages()

    assert list(_parsed(messages, 2)) == here(messages)
    assert "daemonic processes are not allowed to have children" in caplog.text
