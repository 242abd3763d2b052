#!/usr/bin/env python3
"""Run a swarmgrad ONNX export with Python onnxruntime, the way a job owner opens it.

    python3 scripts/check-onnx.py runs/<job>/model.onnx inputs.npy [--labels labels.npy]
                                  [--reference logits.npy] [--show 5]

Checks the model with onnx.checker, runs it on CPU and prints, for the first --show
examples, the logits and their argmax; with --labels, the accuracy; with --reference (an
[N, classes] array of logits computed elsewhere, e.g. swarmgrad's f64 reference forward),
the largest |difference| and whether every logit is within atol + rtol*|ref|.

Inputs: the export takes float32 pixels/255 in [0, 1], [N, ...input shape] (NCHW for
images). A uint8 .npy is divided by 255 here; a float .npy is used as it is. An array whose
per-example size matches the model's but not its dims ([N, 784] for a [1, 28, 28] model, or
[N, 28, 28]) is reshaped, which is right for channel-major (NCHW) data only.

Needs numpy, onnx and onnxruntime (pip install onnx onnxruntime).
"""

import argparse
import json
import sys

import numpy as np


def fail(message: str) -> "None":
    print(f"check-onnx: {message}", file=sys.stderr)
    sys.exit(2)


def load_inputs(path: str, shape: list) -> np.ndarray:
    try:
        x = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        fail(f"{path} is missing")
    except ValueError as error:
        fail(f"{path} is not a plain .npy array: {error}")
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / 255.0
    elif x.dtype.kind == "f":
        x = x.astype(np.float32)
    else:
        fail(f"{path}: inputs must be uint8 (pixels) or float (pixels/255), got {x.dtype}")
    per_example = int(np.prod(shape))
    if x.ndim < 2 or int(np.prod(x.shape[1:])) != per_example:
        fail(f"{path}: shape {list(x.shape)} does not hold examples of the model's input shape {shape} ({per_example} values each)")
    return x.reshape([x.shape[0], *shape])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="an exported .onnx")
    parser.add_argument("inputs", help="a .npy of inputs, [N, ...input shape] or [N, features]")
    parser.add_argument("--labels", help="a .npy of integer labels [N]: print the accuracy")
    parser.add_argument("--reference", help="a .npy of expected logits [N, classes]: print the largest difference")
    parser.add_argument("--atol", type=float, default=1e-4)
    parser.add_argument("--rtol", type=float, default=1e-4)
    parser.add_argument("--show", type=int, default=5, help="examples to print (default 5)")
    args = parser.parse_args()

    import onnx
    import onnxruntime as ort

    try:
        model = onnx.load(args.model)
    except FileNotFoundError:
        fail(f"{args.model} is missing")
    onnx.checker.check_model(model, full_check=True)
    meta = {p.key: p.value for p in model.metadata_props}
    print(f"{args.model}: opset {model.opset_import[0].version}, IR {model.ir_version}, producer {model.producer_name!r}")
    print(f"  {model.doc_string}")
    if "swarmgrad.model_spec" in meta:
        print(f"  spec {json.dumps(json.loads(meta['swarmgrad.model_spec']))}")

    session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    shape = [d for d in inp.shape[1:]]
    if not all(isinstance(d, int) for d in shape):
        fail(f"the model's input {inp.name} has a symbolic non-batch dimension: {inp.shape}")
    x = load_inputs(args.inputs, shape)
    (logits,) = session.run(["logits"], {inp.name: x})
    predictions = logits.argmax(axis=1)
    print(f"ran {x.shape[0]} examples of shape {shape}: logits {list(logits.shape)}")
    for n in range(min(args.show, x.shape[0])):
        values = " ".join(f"{v:+.5f}" for v in logits[n])
        print(f"  example {n}: argmax {predictions[n]}  logits [{values}]")

    if args.labels:
        labels = np.load(args.labels, allow_pickle=False)
        if labels.shape != (x.shape[0],):
            fail(f"{args.labels}: labels of shape {list(labels.shape)}, expected [{x.shape[0]}]")
        print(f"accuracy {np.mean(predictions == labels) * 100:.2f}% ({int(np.sum(predictions == labels))}/{x.shape[0]})")

    if args.reference:
        ref = np.load(args.reference, allow_pickle=False).astype(np.float64)
        if ref.shape != logits.shape:
            fail(f"{args.reference}: reference logits of shape {list(ref.shape)}, the model gives {list(logits.shape)}")
        diff = np.abs(logits.astype(np.float64) - ref)
        allowed = args.atol + args.rtol * np.abs(ref)
        worst = np.unravel_index(np.argmax(diff / allowed), diff.shape)
        bad = int(np.sum(diff > allowed))
        same_argmax = int(np.sum(predictions == ref.argmax(axis=1)))
        print(
            f"against {args.reference}: max |diff| {diff.max():.3g} (worst at {tuple(int(i) for i in worst)}, "
            f"allowed {allowed[worst]:.3g}), {bad} of {diff.size} logits outside {args.atol:g} + {args.rtol:g}*|ref|, "
            f"argmax agrees on {same_argmax}/{x.shape[0]}"
        )
        if bad:
            sys.exit(1)


if __name__ == "__main__":
    main()
