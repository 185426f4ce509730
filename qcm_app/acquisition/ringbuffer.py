"""A bounded, column-oriented numpy buffer whose newest ``capacity`` rows are always contiguous.

Storage is ``capacity + headroom`` rows; appends write in place and, when the end is reached,
the newest ``capacity`` rows are moved to the front once. Each row is therefore copied at most
``capacity / headroom`` times over its life (amortised O(1)), never per sample as ``np.roll``
would, and :meth:`view` is a zero-copy slice that plots can use directly.
Storage is filled with NaN at allocation so resident memory does not creep up as it fills.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


class RingBuffer:
    def __init__(self, capacity: int, columns: Sequence[str], headroom: int | None = None) -> None:
        if capacity < 1:
            raise ValueError("capacity must be positive")
        if len(set(columns)) != len(columns) or not columns:
            raise ValueError("column names must be unique and non-empty")
        self.capacity = capacity
        self.columns = tuple(columns)
        self._headroom = headroom if headroom is not None else max(capacity // 4, 1)
        size = capacity + self._headroom
        self._data = np.full((len(self.columns), size), np.nan)
        self._index = {name: i for i, name in enumerate(self.columns)}
        self._start = 0
        self._end = 0
        #: rows ever appended (so a reader can tell how many it missed)
        self.total = 0

    def __len__(self) -> int:
        return self._end - self._start

    def append(self, chunk: Mapping[str, np.ndarray | float]) -> None:
        """Append rows given as ``{column: array}`` (all columns, equal lengths)."""
        if set(chunk) != set(self.columns):
            raise KeyError(f"chunk columns {sorted(chunk)} do not match {sorted(self.columns)}")
        arrays = [np.atleast_1d(np.asarray(chunk[name], dtype=float)) for name in self.columns]
        n = arrays[0].shape[0]
        if any(a.shape != (n,) for a in arrays):
            raise ValueError("all columns of a chunk must be 1-D and of equal length")
        if n == 0:
            return
        self.total += n
        if n >= self.capacity:  # only the newest rows survive
            for i, a in enumerate(arrays):
                self._data[i, : self.capacity] = a[-self.capacity :]
            self._start, self._end = 0, self.capacity
            return
        if self._end + n > self._data.shape[1]:
            keep = min(len(self), self.capacity - n)
            self._data[:, :keep] = self._data[:, self._end - keep : self._end]
            self._start, self._end = 0, keep
        for i, a in enumerate(arrays):
            self._data[i, self._end : self._end + n] = a
        self._end += n
        if self._end - self._start > self.capacity:
            self._start = self._end - self.capacity

    def view(self, column: str) -> np.ndarray:
        """The buffered rows of one column, oldest first (a read-only view, valid until the next append)."""
        v = self._data[self._index[column], self._start : self._end]
        v.flags.writeable = False
        return v

    def clear(self) -> None:
        self._start = self._end = 0
        self.total = 0


class GrowingColumns:
    """Unbounded columns with amortised O(1) appends (capacity doubles), for a run's whole history
    where a bounded ring would forget (e.g. re-running the analysis after a recipe change)."""

    def __init__(self, columns: Sequence[str], initial: int = 65_536) -> None:
        self.columns = tuple(columns)
        self._data = np.empty((len(self.columns), initial))
        self._index = {name: i for i, name in enumerate(self.columns)}
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def append(self, chunk: Mapping[str, np.ndarray]) -> None:
        n = int(np.asarray(chunk[self.columns[0]]).shape[0])
        if self._n + n > self._data.shape[1]:
            size = max(self._data.shape[1] * 2, self._n + n)
            grown = np.empty((len(self.columns), size))
            grown[:, : self._n] = self._data[:, : self._n]
            self._data = grown
        for name, i in self._index.items():
            self._data[i, self._n : self._n + n] = chunk[name]
        self._n += n

    def view(self, column: str) -> np.ndarray:
        v = self._data[self._index[column], : self._n]
        v.flags.writeable = False
        return v
