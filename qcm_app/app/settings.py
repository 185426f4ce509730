"""The app's settings, kept between launches (QSettings), validated on the way in.

A value that is missing, of the wrong type or out of range falls back to its default with a
one-line message naming the setting, so a damaged settings file never stops the app.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings

from qcm_app.app.controller import AppSettings
from qcm_app.domain.physics import CrystalSettings
from qcm_app.domain.pipeline import FilmSettings

GROUP = "app"


def _positive(value: Any) -> float:
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise ValueError("not a positive number")
    return number


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("not text")
    return value


def _path(value: Any) -> Path:
    text = _text(value).strip()
    if not text:
        raise ValueError("empty")
    return Path(text).expanduser()


def _protocol(value: Any) -> str:
    from instruments.registry import protocol_names

    text = _text(value)
    if text not in protocol_names():
        raise ValueError(f"not one of {', '.join(protocol_names())}")
    return text


def _bound(value: Any) -> float:
    """An alarm bound: a number, or empty/'nan' for off."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "nan", "off")):
        return math.nan
    number = float(value)
    if math.isinf(number):
        raise ValueError("not a finite number")
    return number


def _percent(value: Any) -> float:
    number = float(value)
    if not 0 <= number <= 100:
        raise ValueError("not a percentage from 0 to 100")
    return number


def _tooling(value: Any) -> float:
    number = _positive(value)
    if number > 1000:
        raise ValueError("tooling above 1000 %")
    return number


#: key → (parse, getter from AppSettings, setter building a new AppSettings)
_FIELDS: dict[str, tuple[Callable[[Any], Any], Callable[[AppSettings], Any],
                         Callable[[AppSettings, Any], AppSettings]]] = {
    "runs_folder": (_path, lambda s: s.runs_folder, lambda s, v: replace(s, runs_folder=v)),
    "demo_speed": (_positive, lambda s: s.demo_speed, lambda s, v: replace(s, demo_speed=min(v, 1000.0))),
    "demo_protocol": (_protocol, lambda s: s.demo_protocol, lambda s, v: replace(s, demo_protocol=v)),
    "operator_note": (_text, lambda s: s.operator_note, lambda s, v: replace(s, operator_note=v)),
    "film_density_g_cm3": (_positive, lambda s: s.film.density_g_cm3,
                           lambda s, v: replace(s, film=replace(s.film, density_g_cm3=v))),
    "film_z_ratio": (_positive, lambda s: s.film.z_ratio, lambda s, v: replace(s, film=replace(s.film, z_ratio=v))),
    "film_tooling_pct": (_tooling, lambda s: s.film.tooling_pct,
                         lambda s, v: replace(s, film=replace(s.film, tooling_pct=v))),
}
_FIELDS["alarm_crystal_life_min_pct"] = (
    _percent, lambda s: s.alarms.crystal_life_min_pct,
    lambda s, v: replace(s, alarms=replace(s.alarms, crystal_life_min_pct=v)))
for _name in ("rate_min_ng_cm2_s", "rate_max_ng_cm2_s", "cycle_mass_min_ng_cm2", "cycle_mass_max_ng_cm2"):
    _FIELDS[f"alarm_{_name}"] = (
        _bound, lambda s, n=_name: getattr(s.alarms, n),
        lambda s, v, n=_name: replace(s, alarms=replace(s.alarms, **{n: v})))
for _f in fields(CrystalSettings):
    _FIELDS[f"crystal_{_f.name}"] = (
        _positive, lambda s, n=_f.name: getattr(s.crystal, n),
        lambda s, v, n=_f.name: replace(s, crystal=replace(s.crystal, **{n: v})))


def settings_from_mapping(values: Mapping[str, Any]) -> tuple[AppSettings, list[str]]:
    """Settings from stored values; bad ones keep their default and give a message."""
    settings = AppSettings(crystal=CrystalSettings(), film=FilmSettings())
    problems = []
    for key, raw in values.items():
        if key not in _FIELDS:
            continue
        parse, _, setter = _FIELDS[key]
        try:
            settings = setter(settings, parse(raw))
        except (ValueError, TypeError, OverflowError) as exc:
            shown = repr(raw)[:40]
            problems.append(f"setting '{key}' ignored ({exc}: {shown}); using the default")
    c = settings.crystal
    if not c.min_frequency_hz < c.fresh_frequency_hz:
        problems.append("settings 'crystal_min_frequency_hz' and 'crystal_fresh_frequency_hz' are in the wrong "
                        "order; using the defaults for both")
        settings = replace(settings, crystal=replace(c, min_frequency_hz=CrystalSettings().min_frequency_hz,
                                                     fresh_frequency_hz=CrystalSettings().fresh_frequency_hz))
    return settings, problems


def settings_to_mapping(settings: AppSettings) -> dict[str, Any]:
    out = {}
    for key, (_, get, _) in _FIELDS.items():
        value = get(settings)
        if isinstance(value, Path):
            value = str(value)
        elif isinstance(value, float) and math.isnan(value):
            value = ""  # an alarm bound that is off
        out[key] = value
    return out


def load_settings(store: QSettings | None = None) -> tuple[AppSettings, list[str]]:
    store = store or _store()
    store.beginGroup(GROUP)
    try:
        values = {key: store.value(key) for key in store.childKeys()}
    finally:
        store.endGroup()
    return settings_from_mapping(values)


def save_settings(settings: AppSettings, store: QSettings | None = None) -> None:
    store = store or _store()
    store.beginGroup(GROUP)
    try:
        for key, value in settings_to_mapping(settings).items():
            store.setValue(key, value)
    finally:
        store.endGroup()
    store.sync()


def _store() -> QSettings:
    # the default format and path, so tests (and portable installs) can point it elsewhere
    return QSettings(QSettings.defaultFormat(), QSettings.Scope.UserScope, "qcm-monitor", "qcm-monitor")
