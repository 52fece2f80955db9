"""Exception types raised by methylclass.

Every error a user can cause by handing in bad input is a subclass of :class:`MethylclassError` and its
message names the offending file (or sample) and the problem, so the CLI can print it as one line without
a traceback.
"""

from __future__ import annotations


class MethylclassError(Exception):
    """Base class of every user-facing methylclass error."""


class IdatError(MethylclassError):
    """An IDAT file (or a Red/Grn pair) cannot be read or is inconsistent."""


class ManifestError(MethylclassError):
    """A manifest is missing, unreadable, or does not match the arrays being read."""


class SampleSheetError(MethylclassError):
    """A sample sheet cannot be parsed or names samples that cannot be found."""


class ConfigError(MethylclassError):
    """A run configuration or a command-line option is invalid."""


class DataError(MethylclassError):
    """Input data (a beta table, a store, a reference panel) is unusable for the requested step."""
