#!/usr/bin/env python3
"""Train a job's model in PyTorch (CPU, eager, float32): what a job owner would run instead.

Builds the model from a job file's `model` (either form of src/model/layers/spec.ts, with our
initialisation: Kaiming-uniform U(-sqrt(6/fanIn), sqrt(6/fanIn)) weights, zero biases, unit
layernorm gains), reads Fashion-MNIST from the Debian package, and trains with the job's
optimizer kind (AdamW or SGD with momentum) at a batch and learning rate given here, reporting
test accuracy after every epoch and the training images/s. One use is choosing a zoo job (the
fewest examples to a target accuracy); another is the baseline beside our CPU backend in
`npm run bench` (images/s at the same model, batch and thread count).

  python3 scripts/torch-train.py src/coordinator/jobs/fashion-mnist-cnn.json \
      [--batch 64] [--lr 2e-3] [--epochs 8] [--threads 1] [--target 0.92] [--seed 1]
  python3 scripts/torch-train.py JOB --local-steps H --leases K [--outer-lr 1.0 --outer-momentum 0.7]
      simulates the swarm's local-steps rounds (no compression): each of K leases runs H inner
      steps of --batch examples from the round's parameters with a fresh inner optimizer, and
      the mean Δ is taken by an outer Nesterov step, as src/coordinator/outerOptimizer.ts
  python3 scripts/torch-train.py JOB --speed-only [--batch 64] [--threads 1] [--steps 50]
      prints one JSON line: {"imagesPerSecond": ..., "batch": ..., "threads": ...}
"""
import argparse, gzip, json, math, os, struct, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F

DATA_DIR = os.environ.get('SWARMGRAD_DATA_DIR', '/usr/share/datasets/fashion-mnist')


def read_idx(path):
    with gzip.open(path, 'rb') as f:
        data = f.read()
    magic, = struct.unpack('>I', data[:4])
    dims = magic & 0xFF
    shape = struct.unpack('>' + 'I' * dims, data[4:4 + 4 * dims])
    return torch.frombuffer(bytearray(data[4 + 4 * dims:]), dtype=torch.uint8).reshape(shape)


def load_split(prefix):
    x = read_idx(os.path.join(DATA_DIR, f'{prefix}-images-idx3-ubyte.gz')).float() / 255
    y = read_idx(os.path.join(DATA_DIR, f'{prefix}-labels-idx1-ubyte.gz')).long()
    return x, y


def mlp_to_layers(spec):
    layers = []
    widths = spec['widths']
    for l in range(1, len(widths)):
        layers.append({'kind': 'linear', 'outFeatures': widths[l]})
        if l + 1 < len(widths):
            layers.append({'kind': spec['activation']})
    layers.append({'kind': 'softmax-cross-entropy'})
    return {'input': [widths[0]], 'layers': layers}


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


class Residual(nn.Module):
    def __init__(self, branch):
        super().__init__()
        self.branch = branch

    def forward(self, x):
        return x + self.branch(x)


class Gelu(nn.Module):
    def forward(self, x):
        return F.gelu(x, approximate='tanh')


def build(layers, shape):
    """nn.Sequential for a layer list (the loss left out) and the output shape."""
    mods = []
    for spec in layers:
        kind = spec['kind']
        if kind == 'softmax-cross-entropy':
            continue
        if kind == 'linear':
            fan_in = math.prod(shape)
            m = nn.Linear(fan_in, spec['outFeatures'])
            bound = math.sqrt(6 / fan_in)
            nn.init.uniform_(m.weight, -bound, bound)
            nn.init.zeros_(m.bias)
            shape = [spec['outFeatures']]
        elif kind == 'conv2d':
            c, h, w = shape
            k, s, p = pair(spec['kernel']), pair(spec.get('stride', 1)), pair(spec.get('padding', 0))
            m = nn.Conv2d(c, spec['outChannels'], k, s, p)
            fan_in = c * k[0] * k[1]
            bound = math.sqrt(6 / fan_in)
            nn.init.uniform_(m.weight, -bound, bound)
            nn.init.zeros_(m.bias)
            shape = [spec['outChannels'], (h + 2 * p[0] - k[0]) // s[0] + 1, (w + 2 * p[1] - k[1]) // s[1] + 1]
        elif kind in ('maxpool2d', 'avgpool2d'):
            c, h, w = shape
            k = pair(spec['kernel'])
            s = pair(spec.get('stride', spec['kernel']))
            m = (nn.MaxPool2d if kind == 'maxpool2d' else nn.AvgPool2d)(k, s)
            shape = [c, (h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1]
        elif kind == 'flatten':
            m = nn.Flatten()
            shape = [math.prod(shape)]
        elif kind == 'relu':
            m = nn.ReLU()
        elif kind == 'gelu':
            m = Gelu()
        elif kind == 'layernorm':
            m = nn.LayerNorm(shape, eps=spec.get('eps', 1e-5))
        elif kind == 'dropout':
            m = nn.Dropout(spec['p'])
        elif kind == 'residual':
            branch, out = build(spec['layers'], shape)
            m = Residual(branch)
        else:
            raise SystemExit(f'torch-train: unknown layer kind {kind!r}')
        mods.append(m)
    return nn.Sequential(*mods), shape


def model_of(job):
    spec = job['model']
    if 'widths' in spec:
        spec = mlp_to_layers(spec)
    net, _ = build(spec['layers'], list(spec['input']))
    return net, list(spec['input'])


def optimizer_of(job, params, lr):
    o = job['optimizer']
    if o['kind'] == 'adamw':
        return torch.optim.AdamW(params, lr=lr, betas=(o.get('beta1', 0.9), o.get('beta2', 0.999)), eps=o.get('eps', 1e-8), weight_decay=o.get('weightDecay', 0))
    return torch.optim.SGD(params, lr=lr, momentum=o.get('momentum', 0.9), weight_decay=o.get('weightDecay', 0))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('job')
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--lr', type=float, default=None, help="default: the job's optimizer.lr")
    ap.add_argument('--epochs', type=float, default=8)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--target', type=float, default=None)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--speed-only', action='store_true')
    ap.add_argument('--local-steps', type=int, default=0, metavar='H')
    ap.add_argument('--leases', type=int, default=4, metavar='K')
    ap.add_argument('--outer-lr', type=float, default=1.0)
    ap.add_argument('--outer-momentum', type=float, default=0.7)
    ap.add_argument('--steps', type=int, default=50)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    with open(args.job) as f:
        job = json.load(f)
    net, input_shape = model_of(job)
    lr = args.lr if args.lr is not None else job['optimizer']['lr']
    opt = optimizer_of(job, net.parameters(), lr)

    if args.speed_only:
        x = torch.rand(args.batch, *input_shape)
        y = torch.randint(0, 10, (args.batch,))
        for _ in range(5):
            opt.zero_grad(); F.cross_entropy(net(x), y).backward(); opt.step()
        t0 = time.perf_counter()
        for _ in range(args.steps):
            opt.zero_grad(); F.cross_entropy(net(x), y).backward(); opt.step()
        dt = time.perf_counter() - t0
        print(json.dumps({'imagesPerSecond': args.steps * args.batch / dt, 'batch': args.batch, 'threads': args.threads, 'torch': torch.__version__}))
        return

    xtr, ytr = load_split('train')
    xte, yte = load_split('t10k')
    xtr = xtr.reshape(-1, *input_shape)
    xte = xte.reshape(-1, *input_shape)
    n = xtr.shape[0]
    steps_per_epoch = math.ceil(n / args.batch)
    total_steps = int(args.epochs * steps_per_epoch)
    decay = job['optimizer'].get('schedule', {}).get('decay', 'constant')
    sched = torch.optim.lr_scheduler.LambdaLR(opt, (lambda t: 0.5 * (1 + math.cos(math.pi * min(1, t / total_steps)))) if decay == 'cosine' else (lambda t: 1.0))
    gen = torch.Generator().manual_seed(args.seed)
    step = 0
    examples = 0
    train_seconds = 0.0
    print(f'{sum(p.numel() for p in net.parameters())} parameters; batch {args.batch}, lr {lr}, {args.epochs} epochs, {args.threads} thread(s)')
    params = list(net.parameters())
    velocity = None
    while step < total_steps:
        order = torch.randperm(n, generator=gen)
        net.train()
        t0 = time.perf_counter()
        if args.local_steps:
            # One round: K leases of H inner steps each from theta, then the outer Nesterov step.
            H, K = args.local_steps, args.leases
            per_round = H * K * args.batch
            for r0 in range(0, n - per_round + 1, per_round):
                if step >= total_steps:
                    break
                theta = [p.detach().clone() for p in params]
                delta = [torch.zeros_like(p) for p in params]
                rate = lr * sched.lr_lambdas[0](step)
                for k in range(K):
                    with torch.no_grad():
                        for p, t in zip(params, theta):
                            p.copy_(t)
                    inner = optimizer_of(job, params, rate)
                    for h in range(H):
                        at = r0 + (k * H + h) * args.batch
                        idx = order[at:at + args.batch]
                        inner.zero_grad()
                        F.cross_entropy(net(xtr[idx]), ytr[idx]).backward()
                        inner.step()
                    with torch.no_grad():
                        for d, p, t in zip(delta, params, theta):
                            d += (t - p) / K
                with torch.no_grad():
                    velocity = delta if velocity is None else [args.outer_momentum * v + d for v, d in zip(velocity, delta)]
                    for p, t, d, v in zip(params, theta, delta, velocity):
                        p.copy_(t - args.outer_lr * (d + args.outer_momentum * v))
                step += H * K
                examples += per_round
        else:
            for i in range(0, n, args.batch):
                if step >= total_steps:
                    break
                idx = order[i:i + args.batch]
                opt.zero_grad()
                F.cross_entropy(net(xtr[idx]), ytr[idx]).backward()
                opt.step()
                sched.step()
                step += 1
                examples += len(idx)
        train_seconds += time.perf_counter() - t0
        net.eval()
        with torch.no_grad():
            acc = (net(xte).argmax(1) == yte).float().mean().item()
        print(f'epoch {examples / n:.2f}: {examples} examples, test accuracy {acc * 100:.2f}%, {examples / train_seconds:.0f} images/s', flush=True)
        if args.target is not None and acc >= args.target:
            print(f'reached {args.target * 100:.0f}% after {examples} examples')
            break


if __name__ == '__main__':
    main()
