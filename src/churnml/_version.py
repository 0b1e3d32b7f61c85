"""The package version: one place, read by ``pyproject.toml`` and logged with every run."""

__version__ = "0.1.0"
