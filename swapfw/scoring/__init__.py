"""Patterns -> scores: a network prepared for scoring, its input batch and every proxy's value.

Owns the prepared network (``network``: load, initialise, trace, bind; pattern counts averaged
over re-initialisations), input batches (``data``), weight initialisation (``weights``), a
metric's own fresh copy of the network (``fresh``), proxies by name, derived and parametrised
(``proxies``), size regularisation (``regularise``) and the public ``swapfw.score`` (``score``).

It may import ``swapfw.patterns``, ``swapfw.graph`` and the base modules.
"""
