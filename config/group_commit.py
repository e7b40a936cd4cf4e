"""Group commit: what concurrent threads of one process submit is applied in one call.

A one-click unsubscribe must be durable before it is answered, and alone it costs a
transaction of a dozen statements (most of it waiting on PostgreSQL). When several arrive at
once, the first thread to find nobody applying becomes the leader: it takes every item waiting
(its own included) and applies them in one call, one transaction; the others wait for that
call and answer with its result. At a low rate every batch is a batch of one, as before; under
load the batches grow with the queue, and the cost per item falls.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class _Slot(Generic[Item, Result]):
    __slots__ = ("item", "result", "error", "lead", "ready")

    def __init__(self, item: Item):
        self.item = item
        self.result: Result | None = None
        self.error: BaseException | None = None
        self.lead = False
        self.ready = threading.Event()


class GroupCommit(Generic[Item, Result]):
    """`submit(item)` returns `apply_many(items)`'s result for `item` once the call that
    applied it returned (or raises what that call raised). `apply_many` gets at most
    `max_batch` items and returns one result per item, in order."""

    def __init__(
        self, apply_many: Callable[[Sequence[Item]], Sequence[Result]], *, max_batch: int = 200
    ):
        self._apply_many = apply_many
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._waiting: list[_Slot] = []
        self._applying = False

    def submit(self, item: Item) -> Result:
        slot: _Slot = _Slot(item)
        with self._lock:
            self._waiting.append(slot)
            if not self._applying:
                self._applying = slot.lead = True
        if not slot.lead:
            slot.ready.wait()
        if slot.lead:
            self._lead()
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]

    def _lead(self) -> None:
        """Apply one batch (the leader's own item is in it: it is the oldest waiting), then
        hand the lead to the oldest item that arrived meanwhile, or give it up."""
        with self._lock:
            batch = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
        try:
            results = self._apply_many([slot.item for slot in batch])
            if len(results) != len(batch):
                raise RuntimeError("apply_many returned a result count unlike its items'")
        except BaseException as exc:  # each waiting request decides what to do with it
            for slot in batch:
                slot.error = exc
        else:
            for slot, result in zip(batch, results, strict=True):
                slot.result = result
        finally:
            with self._lock:
                if self._waiting:
                    self._waiting[0].lead = True
                    self._waiting[0].ready.set()
                else:
                    self._applying = False
            for slot in batch:
                slot.lead = False
                slot.ready.set()
