"""Keyed service state with a time-to-live, on top of a faust table (or a plain dict in unit tests).

Handlers see a read-only Mapping in which expired entries do not exist.

Ordering matters for correctness. A state change is applied locally at once (so the next record
already sees it) but is written to the changelog only after every output of the record that caused
it is confirmed by the broker. If the state reached Kafka first and the process then stopped before
the outputs did, the record would be reprocessed after the restart, judged a duplicate by the
restored state, and its outputs would be lost. This way a crash can only cause a duplicate.

Eviction only ever deletes keys written from the partition being processed: a changelog write goes
to an explicit partition, and deleting another partition's key would not survive a restore.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

# persist(partition, key, entry-or-None-for-a-tombstone)
Persist = Callable[[int, str, Any], None]


@dataclass(frozen=True)
class StateSpec:
    """A state store of a service: table name, its changelog topic (logical, in the contract), TTL."""

    name: str
    changelog: str
    ttl_s: float


class TtlState(Mapping[str, Any]):
    def __init__(self, local: MutableMapping[str, Any], ttl_s: float, persist: Persist | None = None,
                 evict_per_write: int = 8):
        self.local = local
        self.ttl_s = ttl_s
        self._persist = persist
        self.evict_per_write = evict_per_write
        self._now = 0.0
        self._index: dict[int, deque[tuple[float, str]]] = {}

    # --- read view for handlers -------------------------------------------------------------
    def at(self, now: float) -> "TtlState":
        """Set the clock the read view judges expiry by (the handler's `now`)."""
        self._now = now
        return self

    def _live(self, entry: Any) -> bool:
        return isinstance(entry, dict) and self._now - entry.get("t", 0.0) < self.ttl_s

    def __getitem__(self, key: str) -> Any:
        entry = self.local.get(key)
        if entry is None or not self._live(entry):
            raise KeyError(key)
        return entry["v"]

    def __iter__(self) -> Iterator[str]:
        return (k for k, e in list(self.local.items()) if self._live(e))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    # --- writes, by the runtime -------------------------------------------------------------
    def write(self, key: str, value: Any, partition: int, now: float) -> None:
        """Apply locally now; `persist` it once the record's outputs are confirmed."""
        index = self._partition_index(partition)
        self.local[key] = {"v": value, "t": now, "p": partition}
        index.append((now, key))
        self.evict(partition, now)

    def persist(self, key: str, partition: int) -> None:
        entry = self.local.get(key)
        if self._persist is not None and isinstance(entry, dict) and entry.get("p") == partition:
            self._persist(partition, key, entry)

    def evict(self, partition: int, now: float) -> int:
        index = self._partition_index(partition)
        evicted = 0
        while index and evicted < self.evict_per_write and now - index[0][0] >= self.ttl_s:
            written_at, key = index.popleft()
            entry = self.local.get(key)
            # Only delete if nobody rewrote the key since this index entry was made.
            if isinstance(entry, dict) and entry.get("t") == written_at and entry.get("p") == partition:
                del self.local[key]
                if self._persist is not None:
                    self._persist(partition, key, None)
                evicted += 1
        return evicted

    def forget_partition(self, partition: int) -> None:
        """After a revocation the table no longer holds this partition; rebuild its index on next use."""
        self._index.pop(partition, None)

    def _partition_index(self, partition: int) -> deque[tuple[float, str]]:
        index = self._index.get(partition)
        if index is None:
            # First use since start or assignment: entries restored from the changelog are indexed once.
            entries = sorted(
                (e["t"], k) for k, e in list(self.local.items()) if isinstance(e, dict) and e.get("p") == partition
            )
            index = self._index[partition] = deque(entries)
        return index
