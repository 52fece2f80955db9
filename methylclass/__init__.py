"""methylclass: tumour classification from Illumina DNA-methylation arrays.

The public API is re-exported here; see the README for a tour.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import (  # noqa: E402
    ConfigError,
    DataError,
    IdatError,
    ManifestError,
    MethylclassError,
    SampleSheetError,
)
from .io.idat import Idat, read_idat, write_idat  # noqa: E402

__all__ = [
    "__version__",
    "ConfigError", "DataError", "IdatError", "ManifestError", "MethylclassError", "SampleSheetError",
    "Idat", "read_idat", "write_idat",
]
