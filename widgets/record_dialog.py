"""Starting a recording: where the run file goes and the note for its header, both with defaults
(a time-stamped name in the runs folder, the last note), so Enter alone starts it."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtWidgets


class RecordDialog(QtWidgets.QDialog):
    def __init__(self, default_path: Path, note: str = "", parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Start recording")
        form = QtWidgets.QFormLayout(self)
        self.name_edit = QtWidgets.QLineEdit(default_path.name)
        self.name_edit.setToolTip("The run file's name; an existing file is never overwritten (-2 is added)")
        self.folder_edit = QtWidgets.QLineEdit(str(default_path.parent))
        browse = QtWidgets.QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        folder_row = QtWidgets.QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)
        self.note_edit = QtWidgets.QLineEdit(note)
        self.note_edit.setPlaceholderText("sample, substrate, operator… (written in the run file's header)")
        form.addRow("File name", self.name_edit)
        form.addRow("Folder", folder_row)
        form.addRow("Note", self.note_edit)
        self.problem = QtWidgets.QLabel("")
        self.problem.setStyleSheet("color: #b71c1c")
        form.addRow(self.problem)
        buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Ok | QtWidgets.QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Ok).setText("Record")
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.setMinimumWidth(520)
        self.note_edit.setFocus()  # the name has a good default; the note is what people type

    def path(self) -> Path:
        name = self.name_edit.text().strip()
        if not name.lower().endswith(".csv"):
            name += ".csv"
        return Path(self.folder_edit.text().strip()).expanduser() / name

    def note(self) -> str:
        return " ".join(self.note_edit.text().split())

    def _browse(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Save runs in", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)

    def _accept(self) -> None:
        name = self.name_edit.text().strip()
        if not name or "/" in name or "\\" in name:
            self.problem.setText("Give a file name (without a folder; the folder is below).")
            return
        if not self.folder_edit.text().strip():
            self.problem.setText("Choose a folder.")
            return
        self.accept()
