"""The package version, in a module of its own so the cache and reports can read it without
importing the package's lazy public API."""

__version__ = "0.1.0"
