"""The version of hanyi, in one place: pyproject.toml reads it from here (a leaf module:
it imports nothing, so any module may record the version without importing the package face)."""

__version__ = "0.2.0"
