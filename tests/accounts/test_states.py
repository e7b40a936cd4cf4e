"""The account state machine as data (accounts/states.py) and its one writer
(accounts.services.account_state_change): every (from, to) pair, and no other code that writes
Account.state."""

import ast
import itertools
from pathlib import Path

import pytest
from django.contrib import admin

from accounts.models import Account
from accounts.services import account_state_change
from accounts.states import (
    ENFORCEABLE,
    FINAL,
    TRANSITIONS,
    UNFREEZABLE,
    AccountState,
    can_transition,
    ensure_transition,
)
from config.errors import InvalidTransition
from tests.factories import AccountFactory

S = AccountState
PAIRS = list(itertools.product(AccountState.values, repeat=2))
# What each decision may move an account to and from, as DESIGN.md rule 8 tells it.
ALLOWED = {
    ("active", "warned"),
    ("active", "frozen"),
    ("active", "scheduled_for_deletion"),
    ("warned", "frozen"),
    ("warned", "scheduled_for_deletion"),
    ("frozen", "active"),
    ("frozen", "scheduled_for_deletion"),
    ("scheduled_for_deletion", "active"),
    ("scheduled_for_deletion", "deleted"),
}


def test_the_table_covers_every_state_and_reads_as_designed():
    assert set(TRANSITIONS) == set(AccountState.values)
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == ALLOWED
    assert {S.DELETED} == FINAL
    assert {S.ACTIVE, S.WARNED} == ENFORCEABLE
    assert {S.FROZEN, S.SCHEDULED_FOR_DELETION} == UNFREEZABLE


@pytest.mark.parametrize(("current", "target"), PAIRS)
def test_every_pair_is_allowed_exactly_when_the_table_says(current, target):
    allowed = (current, target) in ALLOWED

    assert can_transition(current, target) is allowed
    if allowed:
        ensure_transition(current, target)
    else:
        with pytest.raises(InvalidTransition) as refused:
            ensure_transition(current, target)
        assert refused.value.status_code == 409
        assert refused.value.extra == {"state": current}


def test_a_refusal_names_the_decision_that_asked():
    with pytest.raises(InvalidTransition, match="frozen: only an active account can be warned"):
        ensure_transition(S.FROZEN, S.WARNED)
    with pytest.raises(InvalidTransition, match="deleted: it cannot be unfrozen"):
        ensure_transition(S.DELETED, S.ACTIVE)
    with pytest.raises(InvalidTransition, match="cannot become scheduled for deletion"):
        ensure_transition(S.DELETED, S.SCHEDULED_FOR_DELETION)


@pytest.mark.django_db
def test_the_writer_changes_the_state_and_clears_a_deletion_date_it_no_longer_has():
    account = AccountFactory(state=S.FROZEN)
    due = account.created_at

    account_state_change(
        account=account, state=S.SCHEDULED_FOR_DELETION, reason="No appeal.", deletion_due_at=due
    )
    account.refresh_from_db()
    assert (account.state, account.state_reason, account.deletion_due_at) == (
        "scheduled_for_deletion",
        "No appeal.",
        due,
    )
    account_state_change(account=account, state=S.ACTIVE, reason="Mistake.")
    account.refresh_from_db()
    assert (account.state, account.deletion_due_at) == ("active", None)


@pytest.mark.django_db
def test_the_writer_refuses_a_change_the_table_does_not_allow_and_writes_nothing():
    account = AccountFactory(state=S.DELETED, state_reason="Closed.")

    with pytest.raises(InvalidTransition):
        account_state_change(account=account, state=S.ACTIVE, reason="Back?")

    account.refresh_from_db()
    assert (account.state, account.state_reason) == ("deleted", "Closed.")


# --- one writer -------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
APPS = ["accounts", "lists", "campaigns", "complaints", "moderation", "config", "outbox"]
WRITER = ("accounts/services.py", "account_state_change")
# Calls whose `state=` keyword writes rather than reads.
WRITING_CALLS = {"update", "create", "update_or_create", "get_or_create", "bulk_create"}


def _writes_of_state(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, enclosing function) of each assignment to `<x>.state`, each `state=` keyword of a
    writing call and each save(update_fields=[... "state" ...])."""
    found = []

    def visit(node: ast.AST, function: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            for part in ast.walk(target):
                if isinstance(part, ast.Attribute) and part.attr == "state":
                    found.append((node.lineno, function))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name = node.func.attr
            for keyword in node.keywords:
                if name in WRITING_CALLS and keyword.arg == "state":
                    found.append((node.lineno, function))
                if keyword.arg == "update_fields" and any(
                    isinstance(c, ast.Constant) and c.value == "state"
                    for c in ast.walk(keyword.value)
                ):
                    found.append((node.lineno, function))
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "setattr"
            and any(isinstance(a, ast.Constant) and a.value == "state" for a in node.args)
        ):
            found.append((node.lineno, function))
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(tree, "")
    return found


def test_only_account_state_change_writes_an_account_state():
    writes = {}
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if "/migrations/" in relative:
                continue
            for line, function in _writes_of_state(ast.parse(path.read_text(), relative)):
                writes.setdefault((relative, function), []).append(line)

    # The one writer (and, to show the search finds writes, only it).
    assert list(writes) == [WRITER]


def test_the_search_finds_each_way_of_writing_a_state():
    code = """
def a(account):
    account.state = "frozen"
def b():
    Account.objects.filter(pk=1).update(state="frozen")
def c(account):
    account.save(update_fields=["state"])
def d(account):
    setattr(account, "state", "frozen")
def e():
    Account.objects.filter(state="frozen").count()
"""
    assert [function for _, function in _writes_of_state(ast.parse(code))] == ["a", "b", "c", "d"]


def test_the_admin_shows_the_state_but_does_not_change_it():
    readonly = admin.site._registry[Account].get_readonly_fields(request=None)

    assert {"state", "state_changed_at", "state_reason", "state_reason_code"} <= set(readonly)
    assert "deletion_due_at" in readonly
