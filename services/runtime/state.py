"""Keyed service state with a time-to-live, on top of a faust table (or any dict in unit tests).

Handlers see a read-only Mapping in which expired entries do not exist. The runtime writes entries
and evicts expired ones a few at a time. Eviction only ever deletes keys written from the partition
currently being processed: faust writes a table change to the changelog partition of the current
event, so deleting another partition's key would not survive a restore.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StateSpec:
    """A state store of a service: table name, its changelog topic (logical, in the contract), TTL."""

    name: str
    changelog: str
    ttl_s: float


class TtlState(Mapping[str, Any]):
    def __init__(self, table: MutableMapping[str, Any], ttl_s: float, evict_per_write: int = 8):
        self.table = table
        self.ttl_s = ttl_s
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
        entry = self.table.get(key)
        if entry is None or not self._live(entry):
            raise KeyError(key)
        return entry["v"]

    def __iter__(self) -> Iterator[str]:
        return (k for k, e in list(self.table.items()) if self._live(e))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    # --- writes, by the runtime -------------------------------------------------------------
    def write(self, key: str, value: Any, partition: int, now: float) -> None:
        index = self._partition_index(partition)
        self.table[key] = {"v": value, "t": now, "p": partition}
        index.append((now, key))
        self.evict(partition, now)

    def evict(self, partition: int, now: float) -> int:
        index = self._partition_index(partition)
        evicted = 0
        while index and evicted < self.evict_per_write and now - index[0][0] >= self.ttl_s:
            written_at, key = index.popleft()
            entry = self.table.get(key)
            # Only delete if nobody rewrote the key since this index entry was made.
            if isinstance(entry, dict) and entry.get("t") == written_at and entry.get("p") == partition:
                del self.table[key]
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
                (e["t"], k) for k, e in list(self.table.items()) if isinstance(e, dict) and e.get("p") == partition
            )
            index = self._index[partition] = deque(entries)
        return index
