"""``onnxruntime``: latency of the network as ONNX Runtime runs its exported ONNX graph.

The network is exported as a deployment would export it (opset 17, constant folding on, so
BatchNorm folds into the convolutions), loaded into an ``InferenceSession`` with the thread count
given (``intra_op_num_threads``) on the CPU or CUDA execution provider, and timed like ``torch``
(the same options): untimed runs, then the median of the timed ones, in milliseconds per batch.
"""

import io
import warnings

import numpy as np
import torch

from swapfw import SwapfwError, hookimpl
from swapfw.plugin_api import median_milliseconds

from .torch_runtime import OPTIONS, method

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


class OnnxRuntimeLatency:
    name = "onnxruntime"
    description = "ONNX Runtime on the exported network (constant folding on): median of timed runs"
    options = OPTIONS

    def open(self, space, options, *, device, batch, threads, build, input_shape):
        timing = method(options)
        try:
            import onnxruntime as ort
        except ImportError:
            raise SwapfwError("--latency-runtime onnxruntime needs the onnxruntime package "
                              "(pip install 'swapfw[deploy]')") from None
        provider = PROVIDERS[torch.device(device).type]
        if provider not in ort.get_available_providers():
            raise SwapfwError(f"onnxruntime here has no {provider} (it has {', '.join(ort.get_available_providers())})")

        def measure(arch):
            module = build(arch).eval()
            example = torch.randn((batch, *input_shape), generator=torch.Generator().manual_seed(0))
            graph = io.BytesIO()
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")
                torch.onnx.export(module, (example,), graph, dynamo=False, opset_version=17, do_constant_folding=True,
                                  input_names=["input"], output_names=["output"])
            settings = ort.SessionOptions()
            if threads:
                settings.intra_op_num_threads = threads
                settings.inter_op_num_threads = 1
            session = ort.InferenceSession(graph.getvalue(), settings, providers=[provider])
            feed = {"input": example.numpy().astype(np.float32)}
            return median_milliseconds(lambda: session.run(None, feed), **timing)

        return measure


@hookimpl
def register_latency_meters(register):
    register(OnnxRuntimeLatency())
