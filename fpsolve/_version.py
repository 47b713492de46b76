"""The version of fpsolve, in a module of its own so that any module can read it without
importing the package root (``fpsolve/__init__.py`` imports every subpackage)."""

__version__ = "0.1.0"
