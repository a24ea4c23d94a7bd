"""IR -> activation patterns: which value each binariser reads, and the count of distinct patterns.

Owns the probe that hands chosen values to a callback during a forward pass (``probe``), the
binding of activation sites to binariser plugins (``binding``), the bit-packing distinct-count
engine (``engine``) and one counting pass with its saturation warning (``count``).

It may import ``swapfw.graph`` and the base modules.
"""
