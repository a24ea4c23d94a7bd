"""Scores -> findings: scoring many architectures of a space, correlating, searching, reporting.

Owns the scorer that reads and writes the score cache and sends missing work to an executor
(``evaluate``, ``cache``), ground-truth tables (``truth``), rank correlation (``correlate``),
search around a searcher plugin (``search``), declarative specs (``specs``), the proxies x
metrics table (``table``) and plots (``plot``).

It may import ``swapfw.running``, ``swapfw.scoring`` and everything below them.
"""
