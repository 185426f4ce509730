"""One row per recipe block: where its growth stands, and its film density (editable)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6 import QtCore, QtWidgets

from qcm_app.analysis.regimes import BlockRegime

_HEADERS = ("Block", "Cycles", "Initiation", "Steady\n(ng/cm²/cyc)", "GPC\n(Å/cyc)", "ρ\n(g/cm³)")
DENSITY_COLUMN = 5


def initiation_text(b: BlockRegime) -> str:
    """From the block's own state and its cycles' labels, so the table never contradicts the bars."""
    if b.nucleation_kind != "none":
        return f"{b.nucleation_kind}, {b.nucleation_cycles}"
    if b.labels and all(label == "steady" for label in b.labels):
        return "none"
    return "none" if b.has_steady else "deciding…"


class BlocksTable(QtWidgets.QTableWidget):
    density_edited = QtCore.Signal(str, float)  # block name, g/cm³

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(0, len(_HEADERS), parent)
        self.setHorizontalHeaderLabels(_HEADERS)
        self.verticalHeader().setVisible(False)
        self.horizontalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setSectionResizeMode(2, QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        self.setEditTriggers(
            QtWidgets.QAbstractItemView.EditTrigger.DoubleClicked
            | QtWidgets.QAbstractItemView.EditTrigger.EditKeyPressed
            | QtWidgets.QAbstractItemView.EditTrigger.SelectedClicked
        )
        self._updating = False
        self.itemChanged.connect(self._item_changed)

    def show_blocks(self, blocks: Sequence[BlockRegime]) -> None:
        self._updating = True
        try:
            self.setRowCount(len(blocks))
            for row, b in enumerate(blocks):
                init = initiation_text(b)
                steady = f"{b.steady_mass_ng_cm2:.1f} ± {b.steady_std_ng_cm2:.1f}" if b.has_steady else "—"
                gpc = f"{b.gpc_ang:.2f}" if math.isfinite(b.gpc_ang) else "—"
                density = f"{b.density_g_cm3:g}" if b.density_g_cm3 else ""
                for col, text in enumerate((b.block_name, str(b.cycles), init, steady, gpc, density)):
                    item = self.item(row, col)
                    if item is None:
                        item = QtWidgets.QTableWidgetItem()
                        self.setItem(row, col, item)
                    if col != DENSITY_COLUMN:
                        item.setFlags(item.flags() & ~QtCore.Qt.ItemFlag.ItemIsEditable)
                    else:
                        item.setToolTip("Double-click to set this block's film density")
                    if item.text() != text:
                        item.setText(text)
        finally:
            self._updating = False

    def _item_changed(self, item: QtWidgets.QTableWidgetItem) -> None:
        if self._updating or item.column() != DENSITY_COLUMN:
            return
        name_item = self.item(item.row(), 0)
        try:
            value = float(item.text().replace(",", "."))
        except ValueError:
            value = math.nan
        if name_item is None or not math.isfinite(value) or value <= 0:
            item.setToolTip("Not a density: give a positive number of g/cm³")
            return
        self.density_edited.emit(name_item.text(), value)
