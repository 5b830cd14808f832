"""The contract between a service's pure handler and the runtime that drives it.

A handler is `(event, state, context) -> HandlerResult`. It does no I/O: it reads the decoded event,
a read-only view of its service's state and the context (clock, source position), and returns the
events to publish and the state to write. The runtime does everything else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schemas import EventModel
from schemas.dead_letter.v1 import DeadLetterReason, FieldError


@dataclass(frozen=True)
class Output:
    """An event to publish on a logical topic of the contract."""

    topic: str
    event: EventModel


@dataclass(frozen=True)
class HandlerResult:
    outputs: tuple[Output, ...] = ()
    state_updates: Mapping[str, Any] = field(default_factory=dict)
    # Why the handler deliberately produced nothing (e.g. 'duplicate'); counted, never silent.
    skipped: str | None = None
    # The handler's decision for this event (e.g. a guardrail verdict), counted in sluice_decisions_total.
    decision: str | None = None


@dataclass(frozen=True)
class HandlerContext:
    """What a handler may know besides the event; `now` is injected so handlers stay deterministic."""

    service: str
    now: datetime
    source_topic: str
    partition: int
    offset: int
    source_schema: str = ""  # schema id the event arrived in, before upcasting (e.g. 'raw_turn/v1')
    # What the route's fetcher returned for this event (e.g. model outputs); None for routes without one.
    fetched: Any = None


class Rejected(Exception):
    """The handler refuses the event for good (bad content); it is dead-lettered with this reason."""

    def __init__(self, code: DeadLetterReason, reason: str, field_errors: list[FieldError] | None = None):
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.field_errors = field_errors or []


class TransientError(Exception):
    """A fault worth retrying (a dependency is briefly unavailable); retried with backoff, then dead-lettered."""


Handler = Callable[[EventModel, Mapping[str, Any], HandlerContext], HandlerResult]
