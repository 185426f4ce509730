"""The form of a protocol's driver options, built from its declaration (:mod:`instruments.protocol_spec`).

One field per :class:`~instruments.protocol_spec.OptionSpec`: a combo box for a fixed set of values,
a check box for yes/no, a spin box with the declared limits for numbers (its lowest entry reads as
the option's ``none_label`` where ``None`` is allowed) and a line edit for free text. So the
connection dialog knows no driver's keyword arguments, and a new protocol's options appear by
themselves.
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6 import QtCore, QtWidgets
from PySide6.QtCore import Signal

from instruments.protocol_spec import OptionError, OptionSpec, OptionValue, ProtocolSpec

_INT_LIMIT = 2**31 - 1  # a QSpinBox holds a C int
_FLOAT_LIMIT = 1e9


class ProtocolFields(QtWidgets.QGroupBox):
    """A group box with the option fields of one protocol; :meth:`values` are the driver's keyword arguments."""

    #: the user changed a field
    changed = Signal()

    def __init__(self, spec: ProtocolSpec, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(spec.options_title or f"{spec.title} options", parent)
        self.spec = spec
        self._fields: dict[str, QtWidgets.QWidget] = {}
        form = QtWidgets.QFormLayout(self)
        form.setFieldGrowthPolicy(QtWidgets.QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        for option in spec.options:
            field = self._make_field(option)
            field.setToolTip(option.help)
            field.setObjectName(option.name)
            self._fields[option.name] = field
            form.addRow("" if option.type is bool and not option.choices else f"{option.label}:", field)
        sized = [f for f in self._fields.values() if not isinstance(f, QtWidgets.QCheckBox)]
        width = max((f.sizeHint().width() for f in sized), default=0)
        for field in sized:  # one column of equal fields reads as a table
            field.setMinimumWidth(width)
        self.set_values(spec.defaults())

    # -- building -------------------------------------------------------------------------------

    def _make_field(self, option: OptionSpec) -> QtWidgets.QWidget:
        if option.choices:
            combo = QtWidgets.QComboBox()
            for choice in option.choices:
                combo.addItem(choice.label, choice.key)
            combo.currentIndexChanged.connect(self.changed)
            return combo
        if option.type is bool:
            check = QtWidgets.QCheckBox(option.label)
            check.toggled.connect(self.changed)
            return check
        if option.type is int:
            spin = QtWidgets.QSpinBox()
            low = -_INT_LIMIT if option.minimum is None else int(option.minimum) + option.offset
            high = _INT_LIMIT if option.maximum is None else int(option.maximum) + option.offset
            spin.setRange(low - 1 if option.takes_none else low, high)
            self._decorate(spin, option)
            spin.valueChanged.connect(self.changed)
            return spin
        if option.type is float:
            double = QtWidgets.QDoubleSpinBox()
            double.setDecimals(option.decimals)
            step = 10.0**-option.decimals
            low_f = -_FLOAT_LIMIT if option.minimum is None else option.minimum
            high_f = _FLOAT_LIMIT if option.maximum is None else option.maximum
            double.setRange(low_f - step if option.takes_none else low_f, high_f)
            self._decorate(double, option)
            double.valueChanged.connect(self.changed)
            return double
        edit = QtWidgets.QLineEdit()
        edit.setPlaceholderText(option.none_label)
        edit.textChanged.connect(self.changed)
        return edit

    @staticmethod
    def _decorate(spin: QtWidgets.QAbstractSpinBox, option: OptionSpec) -> None:
        if option.takes_none:  # the entry below the minimum stands for None
            spin.setSpecialValueText(option.none_label or "none")
        if option.unit and isinstance(spin, QtWidgets.QSpinBox | QtWidgets.QDoubleSpinBox):
            spin.setSuffix(f" {option.unit}")

    # -- values ---------------------------------------------------------------------------------

    def field(self, name: str) -> QtWidgets.QWidget:
        """The widget of one option (tests and the dialog's layout use it)."""
        return self._fields[name]

    def values(self) -> dict[str, OptionValue]:
        """The driver's keyword arguments as the fields show them."""
        return {option.name: self._value(option) for option in self.spec.options}

    def _value(self, option: OptionSpec) -> OptionValue:
        field = self._fields[option.name]
        if isinstance(field, QtWidgets.QComboBox):
            key = field.currentData()
            return next((c.value for c in option.choices if c.key == key), option.default)
        if isinstance(field, QtWidgets.QCheckBox):
            return field.isChecked()
        if isinstance(field, QtWidgets.QSpinBox | QtWidgets.QDoubleSpinBox):
            if option.takes_none and field.value() == field.minimum():
                return None
            number = field.value()
            return int(number) - option.offset if option.type is int else float(number)
        assert isinstance(field, QtWidgets.QLineEdit)
        text = field.text()
        return None if not text and option.takes_none else text

    def set_values(self, values: Mapping[str, OptionValue]) -> None:
        """Show these driver values; names this protocol does not have are ignored."""
        for name, value in values.items():
            field = self._fields.get(name)
            if field is None:
                continue
            option = self.spec.option(name)
            with QtCore.QSignalBlocker(field):
                if isinstance(field, QtWidgets.QComboBox):
                    field.setCurrentIndex(max(field.findData(option.format(value)), 0))
                elif isinstance(field, QtWidgets.QCheckBox):
                    field.setChecked(bool(value))
                elif isinstance(field, QtWidgets.QSpinBox):
                    field.setValue(field.minimum() if not isinstance(value, int) else value + option.offset)
                elif isinstance(field, QtWidgets.QDoubleSpinBox):
                    field.setValue(field.minimum() if not isinstance(value, int | float) else float(value))
                elif isinstance(field, QtWidgets.QLineEdit):
                    field.setText("" if value is None else str(value))
        self.changed.emit()

    # -- remembering ------------------------------------------------------------------------------

    def texts(self) -> dict[str, str]:
        """The values in their text form (the one ``qcm --option`` reads), for the settings store."""
        return {name: self.spec.option(name).format(value) for name, value in self.values().items()}

    def restore(self, texts: Mapping[str, str]) -> None:
        """Bring back saved values; a missing or unreadable one keeps the field as it is."""
        saved: dict[str, OptionValue] = {}
        for option in self.spec.options:
            text = texts.get(option.name)
            if text is None:
                continue
            try:
                saved[option.name] = option.parse(str(text))
            except OptionError:
                continue
        self.set_values(saved)
