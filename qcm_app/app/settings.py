"""Everything the app keeps between launches, in one QSettings store, read and written through
typed accessors:

- :class:`AppSettings` (group ``app``): runs folder, crystal, film, demo, operator note, alarms;
- :class:`ConnectionSettings` (group ``connection``): port, protocol, baud, sensors, each protocol's
  driver options, and where the tool's valve markers come from;
- :class:`WindowLayout` (group ``window``): window geometry, toolbars, splitters, the time axis.

A value that is missing, of the wrong type or out of range falls back to its default with a
one-line message naming the setting (app settings) or is ignored (connection, layout), so a
damaged settings file never stops the app.

The store is opened in the *default* format and path (``QSettings.defaultFormat()``): the
two-argument ``QSettings(org, app)`` constructor always uses the native format and would ignore
``QSettings.setDefaultFormat``/``setPath``, which the tests use to keep each test's settings apart.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from qcm_app.domain.alarms import AlarmSettings
from qcm_app.domain.physics import CrystalSettings
from qcm_app.domain.pipeline import FilmSettings
from qcm_app.simulation.simulate import DEMO_SPEED

#: the store's names (unchanged since the first release, so users keep their settings)
ORGANISATION = "qcm-monitor"
APPLICATION = "qcm-monitor"

GROUP = "app"
CONNECTION_GROUP = "connection"
#: where each protocol's driver options are kept, inside CONNECTION_GROUP (``options/<protocol>/<name>``)
OPTIONS_GROUP = "options"
LAYOUT_GROUP = "window"


def user_store() -> QSettings:
    """The one settings store, in the default format and path (so tests and portable installs can
    point it elsewhere)."""
    return QSettings(QSettings.defaultFormat(), QSettings.Scope.UserScope, ORGANISATION, APPLICATION)


@dataclass
class AppSettings:
    runs_folder: Path = field(default_factory=lambda: Path.home() / "qcm-runs")
    crystal: CrystalSettings = field(default_factory=CrystalSettings)
    film: FilmSettings = field(default_factory=FilmSettings)
    demo_speed: float = DEMO_SPEED
    demo_protocol: str = "sqm160"
    operator_note: str = ""
    alarms: AlarmSettings = field(default_factory=AlarmSettings)


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


_Parse = Callable[[Any], Any]
_Get = Callable[[AppSettings], Any]
_Set = Callable[[AppSettings, Any], AppSettings]

#: key → (parse, getter from AppSettings, setter building a new AppSettings)
_FIELDS: dict[str, tuple[_Parse, _Get, _Set]] = {
    "runs_folder": (_path, lambda s: s.runs_folder, lambda s, v: replace(s, runs_folder=v)),
    "demo_speed": (_positive, lambda s: s.demo_speed, lambda s, v: replace(s, demo_speed=min(v, 1000.0))),
    "demo_protocol": (_protocol, lambda s: s.demo_protocol, lambda s, v: replace(s, demo_protocol=v)),
    "operator_note": (_text, lambda s: s.operator_note, lambda s, v: replace(s, operator_note=v)),
    "film_density_g_cm3": (
        _positive,
        lambda s: s.film.density_g_cm3,
        lambda s, v: replace(s, film=replace(s.film, density_g_cm3=v)),
    ),
    "film_z_ratio": (_positive, lambda s: s.film.z_ratio, lambda s, v: replace(s, film=replace(s.film, z_ratio=v))),
    "film_tooling_pct": (
        _tooling,
        lambda s: s.film.tooling_pct,
        lambda s, v: replace(s, film=replace(s.film, tooling_pct=v)),
    ),
    "alarm_crystal_life_min_pct": (
        _percent,
        lambda s: s.alarms.crystal_life_min_pct,
        lambda s, v: replace(s, alarms=replace(s.alarms, crystal_life_min_pct=v)),
    ),
}


def _alarm_field(name: str) -> tuple[_Get, _Set]:
    return (lambda s: getattr(s.alarms, name), lambda s, v: replace(s, alarms=replace(s.alarms, **{name: v})))


def _crystal_field(name: str) -> tuple[_Get, _Set]:
    return (lambda s: getattr(s.crystal, name), lambda s, v: replace(s, crystal=replace(s.crystal, **{name: v})))


for _name in ("rate_min_ng_cm2_s", "rate_max_ng_cm2_s", "cycle_mass_min_ng_cm2", "cycle_mass_max_ng_cm2"):
    _FIELDS[f"alarm_{_name}"] = (_bound, *_alarm_field(_name))
for _f in fields(CrystalSettings):
    _FIELDS[f"crystal_{_f.name}"] = (_positive, *_crystal_field(_f.name))


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
        problems.append(
            "settings 'crystal_min_frequency_hz' and 'crystal_fresh_frequency_hz' are in the wrong "
            "order; using the defaults for both"
        )
        settings = replace(
            settings,
            crystal=replace(
                c,
                min_frequency_hz=CrystalSettings().min_frequency_hz,
                fresh_frequency_hz=CrystalSettings().fresh_frequency_hz,
            ),
        )
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
    store = store or user_store()
    store.beginGroup(GROUP)
    try:
        values = {key: store.value(key) for key in store.childKeys()}
    finally:
        store.endGroup()
    return settings_from_mapping(values)


def save_settings(settings: AppSettings, store: QSettings | None = None) -> None:
    store = store or user_store()
    store.beginGroup(GROUP)
    try:
        for key, value in settings_to_mapping(settings).items():
            store.setValue(key, value)
    finally:
        store.endGroup()
    store.sync()


# -- the connection ----------------------------------------------------------------------------


@dataclass
class ConnectionSettings:
    """The last accepted connection. Values are kept as stored (an odd one is for the dialog to
    mend or ignore); driver options in their text form, the one ``qcm --option`` reads."""

    port: str = ""
    protocol: str = ""
    baud: int | None = None
    sensors: tuple[int, ...] = (1,)
    #: protocol → option name → text
    options: dict[str, dict[str, str]] = field(default_factory=dict)
    #: the valve-marker source: kind (a MarkerKind value, "" for none), where, and the valve names
    markers_kind: str = ""
    markers_target: str = ""
    valve_names: str = ""


def _int_or_none(value: object) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _str(value: object) -> str:
    return str(value or "")


def load_connection(store: QSettings | None = None) -> ConnectionSettings:
    store = store or user_store()
    store.beginGroup(CONNECTION_GROUP)
    try:
        sensors = tuple(
            n for n in (_int_or_none(s) for s in str(store.value("sensors", "1")).split(",")) if n is not None
        )
        options: dict[str, dict[str, str]] = {}
        store.beginGroup(OPTIONS_GROUP)
        for protocol in store.childGroups():
            store.beginGroup(protocol)
            options[protocol] = {
                key: str(store.value(key)) for key in store.childKeys() if store.value(key) is not None
            }
            store.endGroup()
        store.endGroup()
        return ConnectionSettings(
            port=_str(store.value("port", "")),
            protocol=_str(store.value("protocol", "")),
            baud=_int_or_none(store.value("baud")) or None,
            sensors=sensors,
            options=options,
            markers_kind=_str(store.value("markers_kind", "")),
            markers_target=_str(store.value("markers_target", "")),
            valve_names=_str(store.value("valve_names", "")),
        )
    finally:
        store.endGroup()


def save_connection(connection: ConnectionSettings, store: QSettings | None = None) -> None:
    store = store or user_store()
    store.beginGroup(CONNECTION_GROUP)
    try:
        store.setValue("port", connection.port)
        store.setValue("protocol", connection.protocol)
        store.setValue("baud", connection.baud or 0)
        store.setValue("sensors", ",".join(str(n) for n in connection.sensors))
        store.beginGroup(OPTIONS_GROUP)
        for protocol, values in connection.options.items():
            store.beginGroup(protocol)
            for name, text in values.items():
                store.setValue(name, text)
            store.endGroup()
        store.endGroup()
        save_marker_source(connection, store)
    finally:
        store.endGroup()
    store.sync()


def save_marker_source(connection: ConnectionSettings, store: QSettings | None = None) -> None:
    """Only the valve-marker source (*Instrument → Valve markers…* changes it alone). Inside the
    connection group when ``store`` is given (it is already there), else in a store of its own."""
    own = store is None
    store = store or user_store()
    if own:
        store.beginGroup(CONNECTION_GROUP)
    store.setValue("markers_kind", connection.markers_kind)
    store.setValue("markers_target", connection.markers_target)
    store.setValue("valve_names", connection.valve_names)
    if own:
        store.endGroup()
        store.sync()


# -- the window --------------------------------------------------------------------------------


@dataclass
class WindowLayout:
    """The main window as it was left: Qt's own opaque states (None: not stored)."""

    geometry: QByteArray | None = None
    state: QByteArray | None = None
    #: splitter object name → its state
    splitters: dict[str, QByteArray] = field(default_factory=dict)
    wall_clock: bool = False


def _bytes(value: object) -> QByteArray | None:
    return value if isinstance(value, QByteArray) else None


def load_window_layout(splitter_names: tuple[str, ...], store: QSettings | None = None) -> WindowLayout:
    store = store or user_store()
    store.beginGroup(LAYOUT_GROUP)
    try:
        splitters = {name: value for name in splitter_names if (value := _bytes(store.value(name))) is not None}
        return WindowLayout(
            geometry=_bytes(store.value("geometry")),
            state=_bytes(store.value("state")),
            splitters=splitters,
            wall_clock=str(store.value("wall_clock", "false")).lower() == "true",
        )
    finally:
        store.endGroup()


def save_window_layout(layout: WindowLayout, store: QSettings | None = None) -> None:
    store = store or user_store()
    store.beginGroup(LAYOUT_GROUP)
    try:
        if layout.geometry is not None:
            store.setValue("geometry", layout.geometry)
        if layout.state is not None:
            store.setValue("state", layout.state)
        for name, value in layout.splitters.items():
            store.setValue(name, value)
        store.setValue("wall_clock", layout.wall_clock)
    finally:
        store.endGroup()
    store.sync()
