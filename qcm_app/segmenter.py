"""Kept for imports written before the analysis became a package: the cycle type lives in
:mod:`qcm_app.analysis.result`."""

from qcm_app.analysis.result import CycleResult

__all__ = ["CycleResult"]
