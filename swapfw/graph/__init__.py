"""Import -> IR: any model as a torch module and one networkx graph.

Owns the model sources (``importers``: ONNX files, ``package.module:callable``, ``SPACE:ARCH``),
the input shape a model is scored at, the canonical op vocabulary (``ops``), the graph IR with
its parameter count and FLOPs (``ir``), the activation sites found in it (``sites``), and
writing a model back out (``export``).

It may import only the base modules (``swapfw.errors``, ``swapfw.plugins``, ``swapfw.contracts``).
"""

from . import importers  # noqa: F401  (registers onnx2torch's class names with the op vocabulary)
