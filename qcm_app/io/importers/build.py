"""From parsed arrays to :class:`~qcm_app.io.runfile.RunData` by one set of rules: rows in time order
(duplicates and a few rows out of order dropped and counted, a wall clock's midnight bridged),
invalid frequencies as gaps, sensors that never gave a reading left out.

Why one place: every vendor log has the same troubles (duplicated rows, wall-clock times that roll
over at midnight, several runs in one file), and a user deserves the same answer to each of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qcm_app.domain.physics import MAX_CRYSTAL_FREQUENCY_HZ, MIN_CRYSTAL_FREQUENCY_HZ, valid_frequencies
from qcm_app.io.importers.table import Table
from qcm_app.io.importers.times import MAX_TIME_S, SECONDS_PER_DAY
from qcm_app.io.runfile import RunData, RunEvent, RunMetadata

#: a backwards jump of wall-clock time larger than this is a midnight rollover, not disorder
ROLLOVER_THRESHOLD_S = SECONDS_PER_DAY / 2
#: a few rows out of order are a glitch, dropped with a warning; more and the file is not one run in
#: time order, and dropping them would lose most of it without a word
MAX_BACKWARD_ROWS = 10
MAX_BACKWARD_FRACTION = 0.01


@dataclass
class RowOrder:
    """Which rows survive (each later than every row before it) and their time from the first."""

    keep: np.ndarray
    time_s: np.ndarray
    origin_s: float
    warnings: list[str]

    @classmethod
    def from_times(
        cls, t: np.ndarray, table: Table, label: str, wall_clock: bool = False, column: int | None = None
    ) -> RowOrder:
        """``wall_clock``: times of day without a date, so a big step back is midnight (+24 h).
        ``column`` lets an error quote the offending field."""
        t = np.asarray(t, dtype=float)
        warnings: list[str] = []
        if t.size == 0:
            raise table.source.error("no data rows", table.header_line or 1)
        with np.errstate(over="ignore", invalid="ignore"):
            bad = np.flatnonzero(~np.isfinite(t) | ~np.isfinite(t - t[0]) | (np.abs(t) > MAX_TIME_S))
        if bad.size:
            i = int(bad[0])
            found = ""
            if column is not None:
                fields = table.split(table.rows[i])
                found = f", found {fields[column].strip()[:30]!r}" if column < len(fields) else ""
            raise table.source.error(f"expected a time in column {label!r}{found}", int(table.linenos[i]))
        if wall_clock:
            back = np.flatnonzero(np.diff(t) < -ROLLOVER_THRESHOLD_S) + 1
            if back.size:
                step = np.zeros_like(t)
                step[back] = SECONDS_PER_DAY
                t = t + np.cumsum(step)
                warnings.append(
                    f"the clock passed midnight {back.size} time(s) (first at line "
                    f"{int(table.linenos[back[0]])}): 24 h added from there"
                )
        running = np.maximum.accumulate(t)
        before = np.concatenate(([-np.inf], running[:-1]))
        keep = t > before
        dropped = np.flatnonzero(~keep)
        if dropped.size:
            repeated = dropped[t[dropped] == before[dropped]]
            identical = sum(1 for i in repeated.tolist() if table.rows[i] == table.rows[i - 1])
            others = repeated.size - identical
            back = dropped.size - repeated.size
            if identical:
                warnings.append(f"{identical} duplicate rows dropped")
            if others:
                warnings.append(
                    f"{others} rows repeating an earlier time with other values dropped "
                    f"(the first reading at each time is kept)"
                )
            if back:
                first = int(table.linenos[dropped[t[dropped] < before[dropped]][0]])
                if back > max(MAX_BACKWARD_ROWS, MAX_BACKWARD_FRACTION * t.size):
                    raise table.source.error(
                        f"time goes backwards in {back} of {t.size} rows in column {label!r} (several runs in one "
                        "file, or a time column that is not one?); not dropping them: split the file or give "
                        "the time column (--time-column)",
                        first,
                    )
                warnings.append(f"{back} rows going back in time dropped (first at line {first})")
        kept = t[keep]
        return cls(keep=keep, time_s=kept - kept[0], origin_s=float(kept[0]), warnings=warnings)


def build_run(
    table: Table,
    order: RowOrder,
    frequency_hz: np.ndarray,
    metadata: RunMetadata,
    frequency_labels: Sequence[str],
    instrument_thickness_ang: np.ndarray | None = None,
    events: Sequence[RunEvent] = (),
    sensor_numbers: Sequence[int] | None = None,
) -> RunData:
    """Apply the row order, turn invalid frequencies (blank, zero, negative) into gaps, drop sensors
    that never gave a reading, and fill the per-sensor metadata."""
    freq = np.asarray(frequency_hz, dtype=float).reshape(len(order.keep), -1)[order.keep]
    if freq.shape[1] == 0:
        raise table.source.error("no frequency column", table.header_line or int(table.linenos[0]))
    thick = None
    if instrument_thickness_ang is not None:
        thick = np.asarray(instrument_thickness_ang, dtype=float).reshape(len(order.keep), -1)[order.keep]
        thick[~np.isfinite(thick)] = np.nan
    warnings = [*table.warnings, *order.warnings]
    invalid = ~valid_frequencies(freq)
    numbers = list(sensor_numbers) if sensor_numbers is not None else list(range(1, freq.shape[1] + 1))
    labels = list(frequency_labels)
    if invalid.any():
        freq = np.where(invalid, np.nan, freq)
        used = np.asarray(~invalid.all(axis=0))  # one flag per column (freq is 2-D), never a scalar
        for s in np.flatnonzero(~used).tolist():
            warnings.append(f"column {labels[s]!r} has no valid frequency: sensor left out")
        if not used.any():
            raise table.source.error(
                f"no valid frequency (a positive number in Hz) in column {labels[0]!r}",
                table.header_line or int(table.linenos[0]),
            )
        freq = freq[:, used]
        if thick is not None:
            thick = thick[:, used]
        numbers = [n for n, u in zip(numbers, used.tolist(), strict=True) if u]
        gaps = int(invalid[:, used].sum())
        if gaps:
            warnings.append(
                f"{gaps} readings without a valid frequency (blank, not a number, or outside "
                f"{MIN_CRYSTAL_FREQUENCY_HZ:g}–{MAX_CRYSTAL_FREQUENCY_HZ:g} Hz) kept as gaps"
            )
    starts = []
    for s in range(freq.shape[1]):
        valid = freq[:, s][np.isfinite(freq[:, s])]
        starts.append(float(valid[0]))
    metadata.start_frequency_hz = tuple(starts)
    metadata.sensors = tuple(numbers)
    shifted = [RunEvent(e.time_s - order.origin_s, e.kind, e.text) for e in events]
    return RunData(
        metadata=metadata,
        time_s=order.time_s,
        frequency_hz=freq,
        events=shifted,
        source=str(table.source.path),
        instrument_thickness_ang=thick,
        warnings=warnings,
    )
