"""Workflows of the understanding commands (explain, panel, embed).

Temporary home: these modules move to ``methylclass/workflows/`` (``explain.py``, ``panel.py``, ``embed.py``)
once the workflows package exists; they compose pure steps (tl), plots (pl) and pages (report).
"""
