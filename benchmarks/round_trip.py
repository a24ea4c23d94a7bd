"""Round trips: does a network score the same as a module, as swapfw's export and as other exporters' files?

    python benchmarks/round_trip.py [--out FILE]

Three studies, each a table:

1. torchvision's resnet18 (3x32x32, 16 Gaussian samples, seed 0) scored as the module, as
   ``torch.onnx.export``'s default file (eval mode: BatchNorm folded into the convolutions), the
   same with ``do_constant_folding=False``, and as ``swapfw export`` writes it; each under random
   weights and with ``--init keep`` (the module's or file's own weights).
2. An NB201 architecture and a mobilenet_v2 variant of the model space: the space's score
   (the protocol ``swapfw export`` records) against the exported file's, ONNX and TorchScript.
3. A small BERT from transformers (2 layers, hidden 128, vocabulary 1,000): its parameters as a
   module and from ONNX exports with a dynamic and a fixed sequence length, and which weights an
   exporter left out.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import torch

from common import parser, publish, table

NB201 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def _swap(model, **options):
    import swapfw

    try:
        result = swapfw.score(model, **options)
        return result.swap, result.params, result.note
    except swapfw.SwapfwError as exc:
        return None, None, f"error: {exc}"


def _export(module, path, example, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (example,), path, dynamo=False, **options)


def resnet18(work: Path) -> dict:
    import torchvision

    import swapfw

    module = torchvision.models.resnet18()
    example = torch.randn(1, 3, 32, 32)
    files = {"torch.onnx.export default (BatchNorm folded)": work / "folded.onnx",
             "torch.onnx.export, do_constant_folding=False": work / "kept.onnx"}
    _export(module, files["torch.onnx.export default (BatchNorm folded)"], example)
    _export(module, files["torch.onnx.export, do_constant_folding=False"], example, do_constant_folding=False)
    swapfw.export("torchvision.models:resnet18", str(work / "swapfw.onnx"))
    rows = []
    for label, model in [("the module", module), *files.items(), ("swapfw export", work / "swapfw.onnx")]:
        keep_model = model if isinstance(model, torch.nn.Module) else str(model)
        swap, params, note = _swap(keep_model, input_shape=(3, 32, 32))
        kept, _, _ = _swap(keep_model, input_shape=(3, 32, 32), init="keep")
        rows.append([label, swap, kept, params, "folded BatchNorm" in note])
    return table("resnet18 at 3x32x32, 16 Gaussian samples, seed 0: SWAP with random weights and with the file's "
                 "own (--init keep); 'named' = the score's note names folded BatchNorm",
                 ["model", "SWAP random", "SWAP --init keep", "params", "named"], rows,
                 ["--init keep scores the weights the module or file holds: BatchNorm in eval mode, so folding "
                  "changes nothing there; swapfw export writes its own freshly initialised resnet18"])


def spaces(work: Path) -> dict:
    import swapfw
    from swapfw.plugins import get_space

    rows = []
    variant = get_space("model", {"source": "torchvision.models:mobilenet_v2"}).sample(1, 1)[0]
    for label, model, options in [("NB201", f"nb201:{NB201}", {}),
                                  ("model space (mobilenet_v2 variant)", f"model:{variant}",
                                   {"source": "torchvision.models:mobilenet_v2"})]:
        for suffix in (".onnx", ".pt"):
            path = str(work / f"net{suffix}")
            recorded = swapfw.export(model, path, space_options=options)["recorded"]
            in_space = swapfw.score(model, space_options=options, protocol=recorded.get("protocol")).swap
            from_file = swapfw.score(path).swap
            rows.append([label, suffix, recorded.get("protocol"), recorded.get("batch"), in_space, from_file,
                         round(100 * (from_file / in_space - 1), 2)])
    folded = work / "nb201_folded.onnx"
    from swapfw.graph.importers import load_model

    _export(load_model(f"nb201:{NB201}").module, folded, torch.randn(1, 3, 32, 32))
    _, _, note = _swap(str(folded), batch=32, data="imagelike")
    return table("swapfw export -> swapfw score: the space's score under the recorded protocol against the file's",
                 ["space", "file", "protocol", "batch", "SWAP in the space", "SWAP from the file", "difference %"],
                 rows, [f"the same NB201 network exported by torch.onnx.export's default (BatchNorm folded), scored "
                        f"at batch 32: {note}"])


def bert(work: Path) -> dict:
    from transformers import BertConfig, BertModel

    import swapfw

    class Ids(torch.nn.Module):  # today's transformers return a dataclass unless asked not to
        def __init__(self):
            super().__init__()
            self.bert = BertModel(BertConfig(vocab_size=1000, hidden_size=128, num_hidden_layers=2,
                                             num_attention_heads=2, intermediate_size=256))

        def forward(self, ids):
            return self.bert(input_ids=ids, return_dict=False)[0]

    torch.manual_seed(0)
    module = Ids().eval()
    ids = torch.randint(0, 1000, (1, 16))
    total = sum(p.numel() for p in module.parameters())
    pooler = sum(p.numel() for p in module.bert.pooler.parameters())
    rows = [["module", total, 0], ["module without its pooler (the traced output never reads it)", total - pooler,
                                    -pooler]]
    for label, dynamic in (("ONNX, dynamic length", True), ("ONNX, fixed length 16", False)):
        path = work / f"bert_{'dynamic' if dynamic else 'fixed'}.onnx"
        _export(module, path, ids, input_names=["ids"], opset_version=17,
                dynamic_axes={"ids": {0: "batch", 1: "length"}} if dynamic else {"ids": {0: "batch"}})
        params = swapfw.score(str(path), data="tokens:1000,16").params
        rows.append([label, params, params - total])
    return table("A small BERT (transformers, 2 layers, hidden 128, vocabulary 1,000, 512 positions): parameters as a "
                 "module and as swapfw counts its ONNX files (every weight tensor the file holds)",
                 ["model", "params", "vs the module"], rows,
                 ["an exporter keeps only what the traced output depends on and constant-folds what does not "
                  "depend on the input: the pooler is dropped, and with a fixed length the position table is "
                  "sliced to the rows used; swapfw counts the file as it is"])


def main() -> None:
    args = parser(__doc__).parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        made = [resnet18(work), spaces(work), bert(work)]
    publish(args, "round_trip", made, doc=__doc__)


if __name__ == "__main__":
    main()
