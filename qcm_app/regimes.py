"""Kept for imports written before the analysis became a package: see :mod:`qcm_app.analysis.regimes`."""

from qcm_app.analysis.regimes import AnomalyRun, BlockRegime, Regime, classify_block

__all__ = ["AnomalyRun", "BlockRegime", "Regime", "classify_block"]
