"""An append-only float array with amortised growth (concatenating on every chunk is quadratic)."""

from __future__ import annotations

import numpy as np


class GrowBuffer:
    def __init__(self, capacity: int = 4096) -> None:
        self._data = np.empty(capacity)
        self.size = 0

    def extend(self, values: np.ndarray) -> None:
        n = values.size
        if self.size + n > self._data.size:
            grown = np.empty(max(2 * self._data.size, self.size + n))
            grown[: self.size] = self._data[: self.size]
            self._data = grown
        self._data[self.size : self.size + n] = values
        self.size += n

    @property
    def view(self) -> np.ndarray:
        """The filled part (a view: valid until the next extend)."""
        return self._data[: self.size]
