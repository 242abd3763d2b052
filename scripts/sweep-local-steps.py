#!/usr/bin/env python3
"""The statistics of local steps, re-implemented in PyTorch to sweep them fast.

The same protocol as a swarmgrad local-steps job (src/coordinator/jobs/fashion-mnist-mlp.json):
each round takes the next K·H·b positions of the epoch's shuffled order; each of its K leases
runs H SGD-with-momentum steps of b examples from the round's parameters, with a fresh momentum
buffer and the cosine-scheduled rate of the round; the round's Δs are averaged (weighted by
examples) after each is rounded like our up encoding (int8 or ternary, a scale per 128 values),
and taken by an outer Nesterov step; contributors start from the broadcast parameters, rebuilt
from deltas rounded like the down encoding with the rounding error carried forward. Test accuracy on the 10,000 test images every 8,192 examples.

It answers "how many examples to 88%, and how far does it get" per configuration, in seconds
per run on a CPU; the bytes and the time on a link come from our own codec and plan
(`npm start -- --job FILE --plan`), and the real runs from `npm run bench`. Needs torch and
numpy (pip install torch); nothing in the project depends on it.

  python3 scripts/sweep-local-steps.py [--h 1,4,16,64] [--schemes int8,f32,ternary/int8] [--outer-lr 0.7 --outer-momentum 0.9]
      [--b 32] [--leases 4] [--stale 0|1 [--eager]] [--seed 1] [--out FILE.json]

--stale 1 simulates pipelined rounds (round r + 1's leases computed from the parameters before
round r's outer step, so no contributor waits for the barrier); --eager starts each such lease
from the pending outer step taken with that lease's own last Δ, which the coordinator could
reproduce for verification (it holds every Δ it received).
"""
import argparse, gzip, json, math, time

import numpy as np
import torch

DATA = '/usr/share/datasets/fashion-mnist/'


def images(name):
    raw = gzip.open(DATA + name).read()
    return torch.tensor(np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 784).astype(np.float32) / 255)


def labels(name):
    return torch.tensor(np.frombuffer(gzip.open(DATA + name).read(), np.uint8, offset=8).astype(np.int64))


def block_round(x, scheme, block=128):
    """What a receiver decodes from `x` sent in `scheme`: int8 or int4 (src/compression/int8.ts,
    int4.ts: scale = max|x| / 127 or / 7, round to nearest) or ternary (ternary.ts: scale =
    max|x|, ±scale where 2|x| ≥ scale, else 0)."""
    if scheme == 'f32':
        return x
    n = x.numel()
    y = torch.cat([x, x.new_zeros((-n) % block)]).view(-1, block)
    top = y.abs().amax(1, keepdim=True)
    if scheme == 'ternary':
        out = torch.where(2 * y.abs() >= top, torch.sign(y) * top, torch.zeros_like(y))
        out[(top == 0).expand_as(y)] = 0
        return out.view(-1)[:n]
    levels = {'int8': 127, 'int4': 7}[scheme]
    scale = top / levels
    scale[scale == 0] = 1
    return (torch.round(y / scale).clamp(-levels, levels) * scale).view(-1)[:n]


def run(train, test, K, H, b, lr, outer_lr, outer_momentum, up, down, stale=0, eager=False, epochs=8, target=0.88, evaluate_every=8192, seed=1):
    xs, ys = train
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    # Our initialisation (src/model/layers/spec.ts): U(±sqrt(6 / fanIn)) weights, zero biases.
    with torch.no_grad():
        for layer in model:
            if isinstance(layer, torch.nn.Linear):
                bound = math.sqrt(6 / layer.in_features)
                layer.weight.uniform_(-bound, bound)
                layer.bias.zero_()
    flat = lambda: torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone()
    # theta: the coordinator's exact parameters; held: the broadcast θ̂ every contributor rebuilds
    # (broadcast.ts: each version goes down as round(θ − θ̂), the rounding error carried forward).
    theta, velocity = flat(), None
    held = theta.clone()
    # With stale = d, a round's leases start from the broadcast of d rounds before (pipelined
    # rounds: round r + 1 computes while round r's Δs upload and its outer step is taken).
    history = [held.clone()]
    last = {}
    order_rng = torch.Generator().manual_seed(seed)
    per_round = K * H * b
    planned = epochs * math.ceil(len(xs) / per_round)
    seen, rounds, next_eval, curve = 0, 0, evaluate_every, []
    accuracy = lambda: (model(test[0]).argmax(1) == test[1]).float().mean().item()
    for _ in range(epochs):
        order = torch.randperm(len(xs), generator=order_rng)
        for start in range(0, len(xs), per_round):
            # The round's rate: step rounds + 1 of a cosine over planned + 1 (coordinator/job.ts innerHyper).
            rate = lr * 0.5 * (1 + math.cos(math.pi * (rounds + 1) / (planned + 1)))
            deltas = []
            for k in range(K):
                lease = order[start + k * H * b:start + (k + 1) * H * b]
                if len(lease) == 0:
                    continue
                base = history[max(0, len(history) - 1 - stale)]
                if eager and stale == 1 and k in last and velocity is not None:
                    # Eager: the lease starts where the pending round's outer step would take the
                    # model if that round's mean Δ were this lease's own last one (Kale et al. 2025).
                    d = last[k]
                    base = base - outer_lr * (d + outer_momentum * (outer_momentum * velocity + d))
                torch.nn.utils.vector_to_parameters(base.clone(), model.parameters())
                inner = torch.optim.SGD(model.parameters(), lr=rate, momentum=0.9)
                for s in range(0, len(lease), b):
                    batch = lease[s:s + b]
                    inner.zero_grad()
                    torch.nn.functional.cross_entropy(model(xs[batch]), ys[batch]).backward()
                    inner.step()
                # Each contributor rounds its own Δ (up encoding); the coordinator averages the decoded ones.
                deltas.append((block_round(base - flat(), up), len(lease)))
                last[k] = deltas[-1][0]
            n = sum(c for _, c in deltas)
            # The short last round of an epoch: its mean Δ scaled by its share of a full round (trainingRun.ts localStepsRoundDelta).
            delta = sum(d * c for d, c in deltas) / n * min(1.0, n / per_round)
            velocity = delta if velocity is None else outer_momentum * velocity + delta
            theta = theta - outer_lr * (delta + outer_momentum * velocity)
            held = held + block_round(theta - held, down)
            history = (history + [held.clone()])[-(stale + 1):]
            seen += n
            rounds += 1
            if seen >= next_eval:
                next_eval += evaluate_every
                torch.nn.utils.vector_to_parameters(theta, model.parameters())
                with torch.no_grad():
                    acc = accuracy()
                curve.append((seen, acc))
                if acc >= target:
                    return dict(reached=True, examples=seen, rounds=rounds, accuracy=acc, curve=curve)
    torch.nn.utils.vector_to_parameters(theta, model.parameters())
    with torch.no_grad():
        return dict(reached=False, examples=seen, rounds=rounds, accuracy=accuracy(), curve=curve)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--h', default='1,4,16,64')
    p.add_argument('--schemes', default='int8,f32', help='up/down pairs or one scheme for both: f32, int8, int4, ternary, e.g. int8,ternary/int8')
    p.add_argument('--leases', type=int, default=4, help='leases per round (K)')
    p.add_argument('--b', type=int, default=32, help='inner batch')
    p.add_argument('--lr', type=float, default=0.02)
    p.add_argument('--outer-lr', type=float, default=0.7)
    p.add_argument('--outer-momentum', type=float, default=0.9)
    p.add_argument('--stale', type=int, default=0, help='rounds a lease\'s parameters lag behind (0: from the last broadcast; 1: pipelined rounds)')
    p.add_argument('--eager', action='store_true', help='with --stale 1: each lease starts from the pending outer step taken with its own last Δ')
    p.add_argument('--out')
    p.add_argument('--seed', type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(1)
    train = (images('train-images-idx3-ubyte.gz'), labels('train-labels-idx1-ubyte.gz'))
    test = (images('t10k-images-idx3-ubyte.gz'), labels('t10k-labels-idx1-ubyte.gz'))
    rows = []
    for h in [int(x) for x in a.h.split(',')]:
        for scheme in a.schemes.split(','):
            up, down = (scheme.split('/') + [scheme])[:2]
            t0 = time.time()
            r = run(train, test, K=a.leases, H=h, b=a.b, lr=a.lr, outer_lr=a.outer_lr, outer_momentum=a.outer_momentum, up=up, down=down, stale=a.stale, eager=a.eager, seed=a.seed)
            row = dict(H=h, b=a.b, scheme=scheme, K=a.leases, stale=a.stale, eager=a.eager, lr=a.lr, outer_lr=a.outer_lr, outer_momentum=a.outer_momentum, seconds=round(time.time() - t0, 1), **r)
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != 'curve'}), flush=True)
    if a.out:
        json.dump(rows, open(a.out, 'w'), indent=1)


if __name__ == '__main__':
    main()
