"""A strip above the plots for things the user must decide on (an interrupted run to recover,
a disk that refused to write): visible until dealt with, never a modal box that stops the view."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6 import QtWidgets

_STYLES = {
    "warning": "background: #FFF3E0; border: 1px solid #FB8C00; border-radius: 4px;",
    "error": "background: #FFEBEE; border: 1px solid #E53935; border-radius: 4px;",
    "info": "background: #E3F2FD; border: 1px solid #1E88E5; border-radius: 4px;",
    "success": "background: #E8F5E9; border: 2px solid #2E7D32; border-radius: 4px; color: #1B5E20;",
}


class Banner(QtWidgets.QFrame):
    def __init__(
        self,
        text: str,
        actions: Sequence[tuple[str, Callable[[], None]]],
        kind: str = "warning",
        parent: QtWidgets.QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.setStyleSheet(f"#banner {{ {_STYLES.get(kind, _STYLES['info'])} }}")
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        self.label = QtWidgets.QLabel(text)
        self.label.setWordWrap(True)
        layout.addWidget(self.label, 1)
        self.buttons: dict[str, QtWidgets.QPushButton] = {}
        for title, callback in actions:
            button = QtWidgets.QPushButton(title)
            button.clicked.connect(lambda _checked=False, cb=callback: cb())  # not the checked flag
            layout.addWidget(button)
            self.buttons[title] = button
        dismiss = QtWidgets.QPushButton("Dismiss")
        dismiss.clicked.connect(self.close_banner)
        layout.addWidget(dismiss)
        self.buttons["Dismiss"] = dismiss

    def close_banner(self) -> None:
        self.hide()
        self.deleteLater()


class BannerArea(QtWidgets.QWidget):
    """Holds banners by key, so the same problem is shown once."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QtWidgets.QVBoxLayout(self)
        self._layout.setContentsMargins(4, 2, 4, 2)
        self._banners: dict[str, Banner] = {}

    def show_banner(
        self, key: str, text: str, actions: Sequence[tuple[str, Callable[[], None]]] = (), kind: str = "warning"
    ) -> Banner:
        self.remove(key)
        banner = Banner(text, actions, kind, self)
        # only this banner's entry: a newer banner under the same key must stay
        banner.destroyed.connect(lambda *_, b=banner: self._banners.pop(key) if self._banners.get(key) is b else None)
        self._banners[key] = banner
        self._layout.addWidget(banner)
        return banner

    def remove(self, key: str) -> None:
        banner = self._banners.pop(key, None)
        if banner is not None:
            banner.close_banner()

    def get(self, key: str) -> Banner | None:
        return self._banners.get(key)

    def keys(self) -> list[str]:
        return list(self._banners)
