#!/usr/bin/env python3
"""Write text with a swarmgrad next-token export, the way a job owner's Python code would.

    python3 scripts/sample-onnx.py runs/<job>/model.onnx [--prompt "ROMEO:"] [--length 300]
                                   [--temperature 0.8] [--seed 1] [--check-text input.txt]

Reads the vocabulary from the model's metadata (swarmgrad.vocabulary: token i is its i-th
character), runs the model with onnxruntime on CPU (input `input` [batch, T] int64 ids, output
`logits` [batch, T, vocabulary]) and samples as the coordinator does: the context is the last T
ids placed at the start of the window, padded with id 0, and the next id is drawn from the
logits at the context's last position, softmax(logits / temperature). With --check-text, also
prints the model's mean next-character loss over the first 20 windows of that text (the same
number the job's evaluations report when it is the validation text).

Needs numpy, onnx and onnxruntime (pip install onnx onnxruntime).
"""

import argparse
import json
import sys

import numpy as np


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('model')
    p.add_argument('--prompt', default='\n')
    p.add_argument('--length', type=int, default=300)
    p.add_argument('--temperature', type=float, default=0.8)
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--check-text')
    a = p.parse_args()
    import onnx
    import onnxruntime as ort

    model = onnx.load(a.model)
    onnx.checker.check_model(model)
    meta = {m.key: m.value for m in model.metadata_props}
    if 'swarmgrad.vocabulary' not in meta:
        sys.exit('sample-onnx: the model has no swarmgrad.vocabulary metadata: it is not a next-token export of a text job')
    chars = json.loads(meta['swarmgrad.vocabulary'])
    ids = {c: i for i, c in enumerate(chars)}
    session = ort.InferenceSession(a.model, providers=['CPUExecutionProvider'])
    dims = session.get_inputs()[0].shape
    context = dims[1]
    if not isinstance(context, int):
        sys.exit(f'sample-onnx: the input has no fixed context length: {dims}')
    missing = sorted({c for c in a.prompt if c not in ids})
    if missing:
        sys.exit(f'sample-onnx: the prompt has characters outside the vocabulary: {missing}')

    def logits(window):
        return session.run(['logits'], {'input': np.asarray([window], dtype=np.int64)})[0][0]

    rng = np.random.default_rng(a.seed)
    out = [ids[c] for c in a.prompt]
    for _ in range(a.length):
        context_ids = out[-context:]
        window = context_ids + [0] * (context - len(context_ids))
        row = logits(window)[len(context_ids) - 1].astype(np.float64)
        if a.temperature == 0:
            out.append(int(np.argmax(row)))
            continue
        z = (row - row.max()) / a.temperature
        probs = np.exp(z) / np.exp(z).sum()
        out.append(int(rng.choice(len(probs), p=probs)))
    print(''.join(chars[i] if i < len(chars) else '\ufffd' for i in out))

    if a.check_text:
        text = open(a.check_text, encoding='utf-8').read()
        tokens = np.asarray([ids[c] for c in text if c in ids], dtype=np.int64)
        windows = [tokens[k * context:(k + 1) * context + 1] for k in range(20) if (k + 1) * context < len(tokens)]
        x = np.stack([w[:-1] for w in windows])
        y = np.stack([w[1:] for w in windows])
        z = session.run(['logits'], {'input': x})[0].astype(np.float64)
        z -= z.max(axis=-1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
        loss = -np.take_along_axis(logp, y[..., None], axis=-1).mean()
        print(f'mean next-character loss over {len(windows)} windows of {a.check_text}: {loss:.4f}', file=sys.stderr)


if __name__ == '__main__':
    main()
