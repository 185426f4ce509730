"""Every threshold of the cycle analysis, in one frozen dataclass (nothing is written inline)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AnalysisSettings:
    # -- sampling and noise ---------------------------------------------------------------------
    #: samples that fix the sample period once (so no decision depends on how data was chunked)
    startup_samples: int = 40
    #: bins the step detector works on: at least this wide, and at least one sample period
    bin_min_s: float = 0.5
    #: bins per noise block (the detector's noise is re-estimated once per block)
    noise_block_bins: int = 512
    #: live, chunks are gathered until they span this much (s) before the analysis runs on them: a
    #: pass has a fixed cost, and a cycle shown 2 s later changes nothing at ALD cycle lengths
    live_batch_s: float = 2.0

    # -- step detector (onsets) -----------------------------------------------------------------
    #: the detector compares the median level over ``window_s`` before a split with the median over
    #: ``window_s`` starting ``guard_s`` after it: the guard skips the pulse and its thermal spike
    window_s: float = 5.0
    guard_s: float = 3.0
    #: a candidate onset needs |step| above this many detector noise widths ...
    onset_sigmas: float = 5.0
    #: ... and above this fraction of the quantisation step (0.1 Hz printed = 1.4 ng/cm² at 5.6 MHz)
    onset_floor_ng_cm2: float = 0.25
    #: the onset is where the level has moved this fraction of the step
    onset_fraction: float = 0.2
    onset_noise_sigmas: float = 0.0  # 0: any move of onset_fraction counts
    #: onsets closer than this are one pulse (the strongest is kept)
    refractory_s: float = 6.0

    # -- alignment to a recipe (dynamic programming over candidate onsets) ---------------------
    #: timing residual allowed between two matched pulses: σ = abs + rel × nominal gap; 3σ is the bound
    timing_sigma_abs_s: float = 0.6
    timing_sigma_rel: float = 0.004
    timing_bound_sigmas: float = 3.0
    #: weight of a candidate: its z-score over the threshold, capped
    candidate_weight_cap: float = 4.0
    #: cost of an unplanned hold (a delay beyond the bound); worth it when it saves two candidates
    hold_cost: float = 8.0
    #: holds may skip at most this many cycles' pulses of invisible steps before the next match
    hold_max_cycles: float = 2.0
    #: per matched pulse: a step of the expected sign (or a gain on a cycle's first pulse)
    likeness_bonus: float = 0.05
    #: cost per cycle of the recipe starting later than the data (a tie-breaker only)
    lead_cost_per_cycle: float = 0.1
    #: recipe-less plans: every pulse was seen when the pattern was inferred, so a skipped one costs
    inferred_miss_cost: float = 3.0
    #: with the tool's valves: passing over a planned pulse no valve fired (before the first one too)
    valve_skip_cost: float = 0.5
    #: recipe-less: a step below this fraction of its pulse's typical size does not count as it
    inferred_size_ratio: float = 0.05
    #: earlier candidates a new one may follow directly (false candidates in between are skipped)
    dp_sources: int = 16
    #: hypotheses kept per candidate, and how far below the best one they may score
    dp_states: int = 12
    dp_margin: float = 10.0
    #: the recipe does not fit when fewer than this fraction of strong candidates match it
    misfit_fraction: float = 0.5
    misfit_min_candidates: int = 8

    # -- recipe-less pattern inference ---------------------------------------------------------
    #: candidates looked at together, the cycles they must span, the longest cycle, how close to
    #: the best a shorter period's score must come, and the share of cycles a pulse must show in
    infer_window: int = 40
    infer_strong_z: float = 2.0
    infer_min_z: float = 1.0
    infer_repeats: int = 4
    infer_max_period_s: float = 900.0
    infer_score_fraction: float = 0.9
    infer_support: float = 0.2
    #: strong onsets an inference waits for (unless the data end), and the share of cycles the
    #: cycle's first pulse must show in
    infer_min_candidates: int = 10
    infer_lead_support: float = 0.5
    #: a gap this many times the typical spacing ends what an inference may look at
    infer_gap_factor: float = 6.0
    #: recipe-less: a gap of this many cycles without a pulse ends the inferred block
    block_gap_cycles: float = 3.0
    #: consecutive unmatched candidates that end an inferred block
    pattern_break_candidates: int = 3

    # -- settled levels and step masses ---------------------------------------------------------
    #: the settled part of a purge: its last fraction, at most this long, and clear of the pulse
    settle_fraction: float = 0.6
    settle_max_s: float = 20.0
    settle_after_pulse_s: float = 3.0
    settle_guard_s: float = 0.2
    #: a step seen inside a purge moves its settled window past it, if this much purge is left
    settle_min_s: float = 4.0
    #: purge windows pooled for the drift slope
    drift_windows: int = 24
    #: a trend of the windows' slopes in time this many sigmas clear of zero means the drift bends
    drift_change_sigmas: float = 4.0
    #: valves without a recipe: a pause longer than this many cycle periods ends a block
    valve_pause_factor: float = 3.0
    #: a window's samples further than this many MADs from its median are dropped (spikes)
    outlier_mads: float = 6.0

    # -- valves ---------------------------------------------------------------------------------
    #: a step that usually brings more than this many σ, and here less than this fraction of it,
    #: got no uptake (with the tool's valve signals)
    uptake_sigmas: float = 5.0
    uptake_fraction: float = 0.25

    # -- regimes --------------------------------------------------------------------------------
    #: a cycle is steady while within max(band_fraction × level, band_sigmas × cycle scatter)
    band_fraction: float = 0.05
    band_sigmas: float = 3.0
    #: cycles in a row within the band that start the steady region
    steady_entry_cycles: int = 3
    #: steady growth is declared once this many cycles sit in the band
    min_steady_cycles: int = 5
    #: the steady cycles' spread must agree with the level: at most this many times their 1σ ...
    spread_agreement: float = 2.5
    #: ... or below this fraction of the level
    spread_fraction: float = 0.06
    #: a steady region whose linear trend moves the level by more than this fraction of the band
    #: over its length is still rising or falling (not steady)
    trend_band_fraction: float = 1.5
    #: a block whose level is within this many σ of zero is a saturation test (precursor-only)
    zero_level_sigmas: float = 3.0
    #: a start within this many σ of zero is "from zero"
    from_zero_sigmas: float = 2.0
