"""Only what pyproject.toml cannot say: ship the top-level ``resources/`` folder as the package
``qcm_app.resources`` (package data, read through ``importlib.resources``), while the code
packages are still found automatically. Everything else is in pyproject.toml."""

from setuptools import find_namespace_packages, find_packages, setup

# every folder of resources/ is a (data-only) subpackage, so setuptools ships it without warnings
DATA_FOLDERS = [f"qcm_app.resources.{name}" for name in find_namespace_packages("resources", exclude=["*__pycache__*"])]

setup(
    packages=[*find_packages(include=["qcm_app*", "instruments*", "widgets*"]), "qcm_app.resources", *DATA_FOLDERS],
    package_dir={"qcm_app.resources": "resources"},
    # data files of every kind the folder may hold (presets now; icons and a demo run are planned)
    package_data={name: ["*.toml", "*.csv", "*.png", "*.svg", "*.ico"] for name in DATA_FOLDERS},
)
