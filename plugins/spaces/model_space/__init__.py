"""The ``model`` space's parts: a search space derived from a user's own ONNX or torch model.

``source`` loads the model as one torch.fx GraphModule (the template every variant is copied
from); ``choices`` finds the choice points in its graph IR (kernel sizes, droppable residual
blocks, activation sites) and ``width`` the channel groups Torch-Pruning ties together;
``encoding`` is the architecture string; ``variant`` builds the network one string names;
``space`` is the bound space the core searches.
"""
