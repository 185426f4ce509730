"""The cycle analysis: one engine used live, in replay and offline.

``plan`` (the recipe's pulses, lazily), ``onsets`` (candidate pulses from the data), ``align``
(which candidate is which pulse), ``steps`` (masses and their 1σ), ``regimes`` (nucleation, steady,
anomalies), ``result`` (what is handed out, and its JSON), ``engine`` (the object that chains them),
``settings`` (every threshold).
"""

from qcm_app.analysis.engine import LiveAnalysis, analyze_mass, mass_from_frequency
from qcm_app.analysis.regimes import AnomalyRun, BlockRegime, NucleationKind, Regime, classify_block
from qcm_app.analysis.result import (
    AnalysisResult,
    AnalysisUpdate,
    CycleResult,
    RegimeSnapshot,
    block_json,
    json_text,
)
from qcm_app.analysis.settings import AnalysisSettings

__all__ = [
    "AnalysisResult",
    "AnalysisSettings",
    "AnalysisUpdate",
    "AnomalyRun",
    "BlockRegime",
    "CycleResult",
    "LiveAnalysis",
    "NucleationKind",
    "Regime",
    "RegimeSnapshot",
    "analyze_mass",
    "block_json",
    "classify_block",
    "json_text",
    "mass_from_frequency",
]
