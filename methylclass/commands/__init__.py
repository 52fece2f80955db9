"""Sub-commands of the ``methylclass`` CLI, one module each (see :mod:`methylclass.cli`)."""
