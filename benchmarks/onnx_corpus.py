"""A corpus of real architectures exported to ONNX as people have them, and what swapfw makes of each.

    python benchmarks/onnx_corpus.py [--work DIR] [--only NAME ...] [--export-only] [--remeasure] [--table]
        [--out FILE]

Builds architectures without weights (random initialisation is what SWAP uses; nothing is
downloaded) from timm, Hugging Face transformers (small configs) and torchvision, and exports each
with the TorchScript exporter at opsets 9, 13 and 17 and with the dynamo exporter at opset 18,
with a fixed batch of 1 (the model-zoo norm) and with a dynamic batch; plus opset 7/8 files and
attention written out (no fused attention) where old opsets need it; and the ONNX model zoo's
classic graphs (alexnet, densenet121, inception v1/v2, resnet50, shufflenet, squeezenet, vgg19,
zfnet512: opset 9, IR 3, batch 1) as the onnx wheel ships them, random weights put back in place of
its ConstantOfShape stand-ins. Then, for every file:

1. import it (``load_onnx``, seconds, what the import did);
2. ``--init keep``: SWAP, |A| and V must equal onnxruntime's count on the file as it is
   (``swapfw.graph.importers.onnx_reference``), on the same 16 samples. Where they differ, the
   sites are compared bit by bit: a bit whose value is within ``NEAR_ZERO`` of 0 in both runs,
   relative to the site's largest value, is float rounding between two implementations of the same
   op (reported as such), anything else is a wrong import;
3. ``--init random``: a score.

The files and every measurement go to DIR (``--work``; DIR/results.json, resumable: files already
measured are skipped); the table (model, exporter, opset, batch, import s, score s, forward s: a
plain forward over the same 16 samples, the floor; match) and a summary go to stdout and to
``--out``. Needs ``pip install -e '.[test]'`` (timm, transformers, onnxruntime, onnxscript). Runs on
one thread (``--threads``).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # common.py, also where a test loads this file by path
from common import parser, publish, set_threads, table, tracked  # noqa: E402

SAMPLES = 16
MATRIX = [("legacy", 9), ("legacy", 13), ("legacy", 17), ("dynamo", 18)]


# ------------------------------------------------------------------------------------------------
# architectures: name -> (builder, input); every builder makes the architecture with random weights
# ------------------------------------------------------------------------------------------------


def _timm(name, **options):
    def build():
        import timm

        return timm.create_model(name, pretrained=False, **options)

    return build


def _torchvision(name):
    def build():
        import torchvision

        return getattr(torchvision.models, name)(weights=None)

    return build


class _Outputs(torch.nn.Module):
    """A transformers model as exporters see it: plain tensors in, a tuple of tensors out."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x, attention_mask=None):
        options = {"attention_mask": attention_mask} if attention_mask is not None else {}
        out = self.model(x, return_dict=False, **options)
        return out[0], out[1]


def _bert(attention=None):
    def build():
        from transformers import BertConfig, BertModel

        config = BertConfig(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                            intermediate_size=128, max_position_embeddings=64)
        model = BertModel._from_config(config, attn_implementation=attention) if attention else BertModel(config)
        return _Outputs(model.eval())

    return build


def _hf_vit():
    from transformers import ViTConfig, ViTModel

    config = ViTConfig(image_size=32, patch_size=8, num_channels=3, hidden_size=64, num_hidden_layers=2,
                       num_attention_heads=2, intermediate_size=128)
    return _Outputs(ViTModel(config).eval())


def _unfused(builder):
    """A timm model with fused attention off: the explicit softmax(QK^T)V that opsets 9 and 13 can hold."""

    def build():
        model = builder()
        for module in model.modules():
            if hasattr(module, "fused_attn"):
                module.fused_attn = False
        return model

    return build


def image(c, h, w):
    return {"kind": "image", "shape": [c, h, w]}


TOKENS = {"kind": "tokens", "length": 16, "vocab": 1000, "mask": False}
TOKENS_MASK = dict(TOKENS, mask=True)

MODELS = {
    "timm_resnet18": (_timm("resnet18"), image(3, 64, 64)),
    "timm_efficientnet_b0": (_timm("efficientnet_b0"), image(3, 64, 64)),
    "timm_mobilenetv3_small_100": (_timm("mobilenetv3_small_100"), image(3, 64, 64)),
    "timm_convnext_atto": (_timm("convnext_atto"), image(3, 64, 64)),
    "timm_vit_tiny": (_timm("vit_tiny_patch16_224", img_size=32, patch_size=8), image(3, 32, 32)),
    "timm_regnetx_002": (_timm("regnetx_002"), image(3, 64, 64)),
    "timm_mixer_s16": (_timm("mixer_s16_224", img_size=64), image(3, 64, 64)),
    "hf_bert": (_bert(), TOKENS),
    "hf_bert_mask": (_bert(), TOKENS_MASK),
    "hf_vit": (_hf_vit, image(3, 32, 32)),
    "tv_resnet18": (_torchvision("resnet18"), image(3, 64, 64)),
    "tv_mobilenet_v2": (_torchvision("mobilenet_v2"), image(3, 64, 64)),
    "tv_squeezenet1_0": (_torchvision("squeezenet1_0"), image(3, 64, 64)),
}

#: (name, builder, input, exporter, opset, batch) beyond MODELS x MATRIX x (fixed, dynamic)
EXTRAS = [
    ("tv_resnet18", MODELS["tv_resnet18"][0], image(3, 64, 64), "legacy", 7, "fixed"),
    ("tv_squeezenet1_0", MODELS["tv_squeezenet1_0"][0], image(3, 64, 64), "legacy", 8, "fixed"),
    ("timm_resnet50_224", _timm("resnet50"), image(3, 224, 224), "legacy", 17, "fixed"),
    ("timm_resnet50_224", _timm("resnet50"), image(3, 224, 224), "dynamo", 18, "fixed"),
] + [(name, builder, spec, "legacy", opset, batch)
     for opset in (9, 13) for batch in ("fixed", "dynamic")
     for name, builder, spec in (("timm_vit_tiny_eager", _unfused(MODELS["timm_vit_tiny"][0]), image(3, 32, 32)),
                                 ("hf_bert_eager", _bert("eager"), TOKENS))]


#: the ONNX model zoo's classic graphs as the onnx wheel ships them ("light": opset 9, IR 3, batch 1,
#: every weight replaced by a ConstantOfShape), each given random weights back as initializers
ZOO = ("bvlc_alexnet", "densenet121", "inception_v1", "inception_v2", "resnet50", "shufflenet", "squeezenet",
       "vgg19", "zfnet512")


def jobs(only=None) -> list[tuple]:
    out = [(name, builder, spec, exporter, opset, batch) for name, (builder, spec) in MODELS.items()
           for exporter, opset in MATRIX for batch in ("fixed", "dynamic")] + EXTRAS
    out += [(f"zoo_{name}", None, None, "zoo", 9, "fixed") for name in ZOO]
    return [j for j in out if not only or j[0] in only]


def zoo_file(path: Path, name: str) -> str:
    """The onnx wheel's light model-zoo graph ``name`` with its ConstantOfShape weights materialised as
    He-scaled random initializers, listed among the inputs as IR-3 zoo files list them."""
    import onnx
    from onnx import helper, numpy_helper

    source = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light" / f"light_{name.removeprefix('zoo_')}.onnx"
    if not source.exists():
        return f"not shipped with this onnx release: {source.name}"
    model = onnx.load(str(source))
    graph, rng = model.graph, np.random.default_rng(0)
    shapes = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    kept, weights = [], []
    for node in graph.node:
        if node.op_type == "ConstantOfShape" and node.input[0] in shapes:
            shape = [int(d) for d in shapes[node.input[0]]]
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
            value = (rng.standard_normal(shape) * np.sqrt(2.0 / max(fan_in, 1))).astype(np.float32)
            weights.append(numpy_helper.from_array(np.abs(value) + 0.5 if len(shape) == 1 else value, node.output[0]))
        else:
            kept.append(node)
    used = {x for node in kept for x in node.input}
    del graph.node[:]
    graph.node.extend(kept)
    initializers = [t for t in graph.initializer if t.name in used] + weights
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    names = {t.name for t in initializers}
    inputs = [i for i in graph.input if i.name in used and i.name not in names]
    del graph.input[:]
    graph.input.extend(inputs + [helper.make_tensor_value_info(t.name, onnx.TensorProto.FLOAT, list(t.dims))
                                 for t in weights])
    onnx.save(model, str(path))
    return ""


# ------------------------------------------------------------------------------------------------
# export
# ------------------------------------------------------------------------------------------------


def file_name(name, exporter, opset, batch) -> str:
    return f"{name}__{exporter}{opset}__{batch}.onnx"


def example(spec, batch):
    generator = torch.Generator().manual_seed(0)
    if spec["kind"] == "image":
        return (torch.randn((batch, *spec["shape"]), generator=generator),), ["input"]
    ids = torch.randint(0, spec["vocab"], (batch, spec["length"]), generator=generator)
    return ((ids, torch.ones_like(ids)), ["input_ids", "attention_mask"]) if spec["mask"] else ((ids,), ["input_ids"])


def export(path: Path, builder, spec, exporter, opset, batch) -> str:
    """Write the file; '' or the exporter's one-line refusal (old opsets cannot hold every op)."""
    torch.manual_seed(0)
    model = builder().eval()
    args, names = example(spec, 1 if batch == "fixed" else 2)  # a dynamic export traces a batch of 2
    tokens = spec["kind"] == "tokens"
    sink = io.StringIO()
    try:
        with torch.no_grad(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if exporter == "legacy":
                dims = {n: ({0: "batch", 1: "sequence"} if tokens else {0: "batch"}) for n in names}
                torch.onnx.export(model, args, str(path), dynamo=False, opset_version=opset, input_names=names,
                                  dynamic_axes=dims if batch == "dynamic" else None)
            else:
                shapes = None
                if batch == "dynamic":
                    b = torch.export.Dim("batch", min=1, max=4096)
                    shapes = tuple({0: b} for _ in names)
                torch.onnx.export(model, args, str(path), dynamo=True, opset_version=opset, input_names=names,
                                  dynamic_shapes=shapes)
    except Exception as exc:  # noqa: BLE001 - an exporter's refusal is recorded, not ours to fix
        for stale in (path, Path(f"{path}.data")):
            stale.unlink(missing_ok=True)
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:200]
    return ""


# ------------------------------------------------------------------------------------------------
# measuring one file
# ------------------------------------------------------------------------------------------------


def measure(path: Path) -> dict:
    """Import, --init keep against onnxruntime, --init random; seconds of each and of a plain forward."""
    import onnx

    import swapfw
    from swapfw.errors import SwapfwError
    from swapfw.graph.importers.onnx import load_onnx
    from swapfw.graph.importers.onnx_batch import fixed_batch
    from swapfw.graph.importers.onnx_inputs import sample_feeds
    from swapfw.graph.importers.onnx_reference import reference_patterns
    from swapfw.scoring.data import load_batch

    out: dict = {}
    try:
        start = time.perf_counter()
        imported = load_onnx(path)
        out["import_s"] = round(time.perf_counter() - start, 3)
        out["notes"] = imported.notes
        keep = swapfw.score(str(path), init="keep", batch=SAMPLES, seed=0)
        start = time.perf_counter()
        random = swapfw.score(str(path), init="random", batch=SAMPLES, seed=0)
        out["score_s"] = round(time.perf_counter() - start, 3)
    except SwapfwError as exc:
        out["error"] = str(exc)
        return out
    out.update(swap_keep=keep.swap, patterns_keep=keep.standard_patterns, values=keep.values,
               swap_random=random.swap, data=keep.data)
    batch = load_batch(keep.data, SAMPLES, tuple(keep.input_shape), 0).inputs
    module, group = imported.module, imported.fixed_batch or SAMPLES
    with torch.no_grad():
        module(batch[:group])  # warm-up
        start = time.perf_counter()
        for i in range(0, SAMPLES, group):
            module(batch[i:i + group])
        out["forward_s"] = round(time.perf_counter() - start, 4)
    model = onnx.load(str(path))
    feeds = sample_feeds(model, batch.numpy())
    reference = reference_patterns(path, feeds, group=fixed_batch(model))
    out.update(ort_swap=reference.swap, ort_patterns=reference.standard_patterns, ort_values=reference.values)
    out["exact"] = (keep.swap, keep.standard_patterns, keep.values) == \
        (reference.swap, reference.standard_patterns, reference.values)
    if not out["exact"]:  # which bits differ, and how far from zero their values are
        out["differing_bits"], out["largest_differing_value"] = bit_differences(path, batch, feeds, fixed_batch(model))
    out["match"] = out["exact"] or (out["differing_bits"] is not None and out["largest_differing_value"] <= NEAR_ZERO)
    return out


#: a bit that differs from onnxruntime's at a value this close to 0, relative to the largest |value| at
#: its site, is float rounding between two implementations, not a wrong import
NEAR_ZERO = 1e-5


def bit_differences(path, batch, feeds, group) -> tuple[int | None, float | None]:
    """(bits that differ from onnxruntime's, the largest |value| at any of them over its site's
    largest |value|), site by site; each site is paired with the unpaired reference site of its shape
    whose values are closest (the two graph orders differ where branches run in parallel).
    (None, None) where the sites do not pair up at all."""
    from swapfw.graph.importers.onnx_reference import reference_values
    from swapfw.scoring.network import prepare

    network = prepare(str(path), init="keep")
    step = network.loaded.fixed_batch or SAMPLES
    runs = []
    with torch.no_grad():
        for i in range(0, SAMPLES, step):
            taps: list = []
            network.probe.run(batch[i:i + step], lambda index, value: taps.append(value.detach().clone()))
            runs.append(taps)
    ours = [torch.cat(parts).numpy().reshape(SAMPLES, -1) for parts in zip(*runs)]
    theirs = [v.reshape(SAMPLES, -1) for v in reference_values(path, feeds, group).values()]
    if sorted(a.shape for a in ours) != sorted(b.shape for b in theirs):
        return None, None
    bits, largest, free = 0, 0.0, set(range(len(theirs)))
    for k, a in enumerate(ours):
        j = min((j for j in free if theirs[j].shape == a.shape), key=lambda j: float(np.abs(a - theirs[j]).max()))
        free.discard(j)
        b = theirs[j]
        differ = (a > 0) != (b > 0)
        if differ.any():
            scale = max(float(np.abs(b).max()), 1e-30)
            bits += int(differ.sum())
            largest = max(largest, float(np.abs(a[differ]).max()) / scale, float(np.abs(b[differ]).max()) / scale)
    return bits, largest


# ------------------------------------------------------------------------------------------------


def corpus_tables(results: dict) -> list[dict]:
    """The summary (files by outcome) and a row per file, as the results page shows them."""
    rows, counts = [], {"files": 0, "refused by the exporter": 0, "import error": 0, "exact": 0,
                        "rounding only": 0, "wrong": 0}
    for entry in sorted(results.values(), key=lambda e: (e["model"], e["exporter"], e["opset"], e["batch"])):
        head = [entry["model"], entry["exporter"], entry["opset"], entry["batch"]]
        counts["files"] += 1
        if entry.get("export_error"):
            counts["refused by the exporter"] += 1
            rows.append(head + [None, None, None, f"exporter refused: {entry['export_error'][:80]}", None, ""])
        elif entry.get("error"):
            counts["import error"] += 1
            rows.append(head + [entry.get("import_s"), None, None, f"error: {entry['error'][:120]}", None, ""])
        elif "match" in entry:
            exact = entry.get("exact", entry["match"])
            counts["exact" if exact else "rounding only" if entry["match"] else "wrong"] += 1
            same = "yes" if exact else (
                f"rounding: {entry['differing_bits']} bit(s) at |value| <= {entry['largest_differing_value']:.0e} "
                "of the site's largest"
                if entry["match"] else f"no ({entry['swap_keep']} vs {entry['ort_swap']})")
            did = "; ".join(n.split(" (")[0] for n in entry["notes"]) or "-"
            rows.append(head + [entry["import_s"], entry["score_s"], entry["forward_s"],
                                f"{same} ({entry['swap_keep']:,})", entry["swap_random"], did])
    summary = table("The corpus: files by outcome", list(counts), [list(counts.values())],
                    ["exact: SWAP, |A| and V under --init keep equal onnxruntime's; rounding only: bits that differ "
                     f"sit within {NEAR_ZERO:.0e} of 0 relative to their site's largest value"])
    files = table("Every file: import, score and a plain forward over the same 16 samples (the floor)",
                  ["model", "exporter", "opset", "batch", "import s", "score s", "forward s",
                   "SWAP keep = onnxruntime", "SWAP random", "import did"], rows)
    return [summary, files]


def main(argv=None) -> int:
    options = parser(__doc__, threads=1)
    options.add_argument("--work", default="onnx_corpus", help="folder for the files and results.json")
    options.add_argument("--only", nargs="*", help="model names (default: all)")
    options.add_argument("--export-only", action="store_true")
    options.add_argument("--table", action="store_true", help="print the table of results.json and stop")
    options.add_argument("--remeasure", action="store_true", help="measure the files already measured again")
    args = options.parse_args(argv)
    set_threads(args.threads)
    folder = Path(args.work)
    folder.mkdir(parents=True, exist_ok=True)
    store = folder / "results.json"
    results = json.loads(store.read_text()) if store.exists() else {}
    if not args.table:
        measure_all(jobs(args.only), folder, results, args)
    publish(args, "onnx_corpus", corpus_tables(results), results, doc=__doc__)
    return 0


def measure_all(todo: list[tuple], folder: Path, results: dict, args) -> None:
    """Export what is missing and measure what is not measured yet, keeping DIR/results.json after each file."""
    import onnx2torch  # noqa: F401 - imported before the first file, so its import time is not
    import onnxruntime  # noqa: F401   counted as that file's
    import onnxslim  # noqa: F401

    from swapfw.graph.importers.onnx_converters import register_once

    register_once()
    store = folder / "results.json"
    for name, builder, spec, exporter, opset, batch in tracked(todo, "corpus files", every=60):
        path = folder / file_name(name, exporter, opset, batch)
        entry = results.get(path.name, {})
        if entry.get("export_error") or (("match" in entry or "error" in entry) and not args.remeasure):
            continue
        entry = {"model": name, "exporter": exporter, "opset": opset, "batch": batch}
        if not path.exists():
            start = time.perf_counter()
            refused = zoo_file(path, name) if exporter == "zoo" else export(path, builder, spec, exporter, opset, batch)
            entry["export_s"] = round(time.perf_counter() - start, 2)
            if refused:
                entry["export_error"] = refused
        if not entry.get("export_error") and not args.export_only:
            entry.update(measure(path))
        results[path.name] = entry
        store.write_text(json.dumps(results, indent=1))
        state = entry.get("export_error") and "exporter refused" or entry.get("error") or \
            ("match" in entry and f"match={entry['match']} import {entry['import_s']}s") or "exported"
        print(f"{path.name:<48} {state[:150]}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
