"""Candidate pulse onsets, found in the data alone (no recipe), as the data arrives.

The mass trace is averaged into fixed bins (at least one sample each, so 0.5–20 Hz data look
alike). At every bin edge the detector compares the median level of the bins just before with the
median a guard interval after: the guard skips the pulse itself and its thermal/pressure spike, the
medians ignore what is left of it, and dropouts only thin a window. A candidate is a local extreme
of that difference beyond a threshold set by the detector's own noise (re-estimated once per noise
block, from the block before, so it follows heavy noise) and by the printed resolution. All work is
a constant amount per bin, so the cost is linear in the number of rows; and every decision waits for
the bins it needs, so any chunking gives the same candidates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from qcm_app.analysis.buffer import GrowBuffer
from qcm_app.analysis.numeric import median_small
from qcm_app.analysis.settings import AnalysisSettings


@dataclass(frozen=True)
class Candidate:
    time_s: float
    size_ng_cm2: float  # signed step across the onset
    z: float  # |size| over the detection threshold (≥ 1)


def quantum(m: np.ndarray) -> float:
    """The printed resolution in mass (0 when the noise hides it): the smallest nonzero step
    between successive samples, when most steps are exactly zero or that one step."""
    d = np.abs(np.diff(m))
    d = d[np.isfinite(d)]
    if d.size < 10:
        return 0.0
    pos = d[d > 1e-12]
    if pos.size == 0:
        return 0.0
    q = float(pos.min())
    if (d < 1e-12).mean() < 0.3:
        return 0.0
    return q


class OnsetDetector:
    def __init__(self, settings: AnalysisSettings, t0_s: float, bin_s: float, quantum_ng_cm2: float) -> None:
        self.s = settings
        self.t0 = t0_s
        self.bin_s = bin_s
        self.quantum = quantum_ng_cm2
        self.w = max(2, round(settings.window_s / bin_s))
        self.g = max(1, round(settings.guard_s / bin_s))
        self.r = max(1, round(settings.refractory_s / bin_s))
        self._bins = GrowBuffer()  # mean mass per bin (forward-filled where a bin is empty)
        self._d = GrowBuffer()  # detector value at split s (between bin s-1 and s); NaN before w
        self._sigma: list[float] = []  # detector noise per noise block
        self._next_sample = 0  # first sample not yet binned
        self._decided = 0  # splits decided as candidate / not
        self.candidates: list[Candidate] = []
        self._last = math.nan
        self._samples: tuple[np.ndarray, np.ndarray] = (np.empty(0), np.empty(0))

    @property
    def decided_until_s(self) -> float:
        """Onsets before this time are all known (the detector's horizon)."""
        return self.t0 + self._decided * self.bin_s

    def feed(self, t: np.ndarray, m: np.ndarray, final: bool = False) -> list[Candidate]:
        """``t``/``m`` are the whole buffers so far; returns the candidates decided by this call."""
        n_bins_done = math.floor((t[-1] - self.t0) / self.bin_s) if t.size else 0
        if final:
            n_bins_done += 1
        self._bin(t, m, n_bins_done)
        self._samples = (t, m)
        self._detect()
        self._estimate_noise(final)
        return self._decide(final)

    def _bin(self, t: np.ndarray, m: np.ndarray, n_bins: int) -> None:
        k0 = self._bins.size
        if n_bins <= k0:
            return
        edges = self.t0 + self.bin_s * np.arange(k0, n_bins + 1)
        idx = np.searchsorted(t, edges, side="left")
        idx[0] = max(idx[0], self._next_sample)
        counts = np.diff(idx)
        means = np.full(counts.size, np.nan)
        ok = counts > 0
        if ok.any():  # each bin summed over its own samples only, so chunking cannot change a bit
            starts = idx[:-1][ok] - idx[0]
            sums = np.add.reduceat(m[idx[0] : idx[-1]], starts)
            means[ok] = sums / counts[ok]
        # forward fill empty bins (dropouts) from the previous bin
        last = self._last
        for i in np.flatnonzero(~ok):
            means[i] = means[i - 1] if i > 0 else last
        if means.size:
            self._last = float(means[-1])
        self._bins.extend(means)
        self._next_sample = int(idx[-1])

    def _detect(self) -> None:
        bins = self._bins.view
        w, g = self.w, self.g
        s0 = self._d.size
        s1 = bins.size - (g + w) + 1  # splits whose after-window is complete
        if s1 <= s0:
            return
        out = np.full(s1 - s0, np.nan)
        lo = max(s0, w)
        if s1 > lo:
            from numpy.lib.stride_tricks import sliding_window_view

            seg = bins[lo - w : s1 + g + w - 1]
            med = np.median(sliding_window_view(seg, w), axis=1)
            before = med[: s1 - lo]
            after = med[w + g : w + g + s1 - lo]
            out[lo - s0 :] = after - before
        self._d.extend(out)

    def _estimate_noise(self, final: bool) -> None:
        """The detector's noise width per block of bins, from the bins' successive differences
        (a step moves one difference, a pulse's spike a few: the median ignores them; the
        detector's own values would not do, since steps fill much of a busy recipe's time)."""
        bins = self._bins.view
        nb = self.s.noise_block_bins
        scale = 1.2533 * math.sqrt(2.0 / self.w)  # a difference of two medians of w bins
        while True:
            q = len(self._sigma)
            if q == 0:
                first = bins[: min(bins.size, 64)]
                if first.size < 64 and not (final and first.size >= 5):
                    return
                self._sigma.append(_diff_sigma(first) * scale)
                continue
            end = q * nb  # block q-1 must be complete
            if bins.size < end:
                return
            block = bins[(q - 1) * nb : end]
            self._sigma.append(_diff_sigma(block) * scale)

    def _decide(self, final: bool) -> list[Candidate]:
        """Splits whose |detector| passes the threshold and is the first maximum within the
        refractory span on either side (vectorised; only the hits are looked at one by one)."""
        d = self._d.view
        r, nb = self.r, self.s.noise_block_bins
        if not self._sigma:
            return []
        # a split is decided once the refractory span after it is known and its noise block has
        # its noise estimate (at the end, every split is)
        limit = d.size if final else min(d.size - r, len(self._sigma) * nb)
        s0 = self._decided
        if limit <= s0:
            return []
        lo, hi = max(0, s0 - r), min(d.size, limit + r)
        seg = np.abs(np.nan_to_num(d[lo:hi]))
        pad = np.concatenate((np.zeros(r), seg, np.zeros(r)))
        from numpy.lib.stride_tricks import sliding_window_view

        win = sliding_window_view(pad, 2 * r + 1)  # window k is centred on seg[k]
        peak = win.max(axis=1)
        first = win[:, :r].max(axis=1) < seg  # no earlier split in the span reaches it
        idx = np.arange(lo, hi)
        blocks = np.minimum(idx // nb, len(self._sigma) - 1)
        sig = np.asarray(self._sigma)[blocks]
        thr = np.maximum(np.maximum(self.s.onset_sigmas * sig, self.s.onset_floor_ng_cm2), 1.5 * self.quantum)
        hit = (seg > thr) & (seg >= peak) & first & (idx >= s0) & (idx < limit)
        new = [self._candidate(int(k), float(d[k]), float(thr[k - lo])) for k in idx[hit]]
        self._decided = limit
        self.candidates.extend(new)
        return new

    def _candidate(self, s: int, v: float, thr: float) -> Candidate:
        """The detector's plateau spans the splits whose before-window is still all before the
        step: its left end gives a clean pre-step level; the onset is the first bin after it that
        has moved a set fraction of the step."""
        d = self._d.view
        left = s
        for i in range(s, max(-1, s - self.g - self.w - 1), -1):
            if math.isfinite(d[i]) and d[i] * v > 0 and abs(d[i]) >= 0.8 * abs(v):
                left = i
            else:
                break
        bins = self._bins.view
        level = median_small(bins[max(0, left - self.w) : left]) if left > 0 else float(bins[0])
        onset = left
        # the pulse starts where the level first moves, either way: a pressure or thermal spike
        # often comes before the mass step (and may go against it); the move must also stand
        # clear of the bins' noise, or a small step's onset would be found in the noise before it
        sigma_bin = self._sigma[min(s // self.s.noise_block_bins, len(self._sigma) - 1)] / (
            1.2533 * math.sqrt(2.0 / self.w)
        )
        move = max(self.s.onset_fraction * abs(v), self.s.onset_noise_sigmas * sigma_bin)
        for i in range(max(0, left - 1), min(bins.size, s + self.g + self.w)):
            if abs(bins[i] - level) >= move:
                onset = i
                break
        # within the bins: the first sample that has moved the same fraction of the step
        t, m = self._samples
        lo_t = self.t0 + (onset - 1) * self.bin_s
        hi_t = self.t0 + (onset + 1) * self.bin_s
        i0, i1 = int(np.searchsorted(t, lo_t)), int(np.searchsorted(t, hi_t))
        onset_s = self.t0 + onset * self.bin_s
        if i1 > i0:
            moved = np.flatnonzero(np.abs(m[i0:i1] - level) >= move)
            if moved.size:
                onset_s = float(t[i0 + moved[0]])
        z = abs(v) / thr  # 1 at the threshold
        return Candidate(time_s=onset_s, size_ng_cm2=float(v), z=float(z))


def _diff_sigma(x: np.ndarray) -> float:
    """Noise of single values from the median absolute successive difference."""
    d = np.diff(x)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return 0.0
    return 1.4826 * float(np.median(np.abs(d))) / math.sqrt(2.0)
