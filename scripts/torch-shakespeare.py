#!/usr/bin/env python3
"""The baseline a job owner would otherwise run for the shakespeare-char-gpt job: the same GPT
(scripts/torch-gpt.py), the same data as the job (src/data/text.ts: nanoGPT's sorted character
vocabulary, 90/10 split, windows of T tokens tiling the split, every window once per epoch in a
shuffled order), AdamW with decay on matrices only, clipping at 1, warm-up then cosine decay over
the planned steps. Validation loss is the mean over every validation window, as the coordinator
computes it. Used to choose the job's recipe and as the side-by-side baseline for its figures.

  python3 scripts/torch-shakespeare.py [--batch 12 --lr 1e-3 --steps 2000 --eval-every 250 --threads 1]
    [--sampling windows|random] (random: nanoGPT's random offsets instead of epoch windows)
    [--workers 2 --inner-steps 8 --outer-lr 0.7 --outer-momentum 0.9] (local steps: --steps counts inner
    steps of one worker, --warmup counts rounds)

Prints one JSON line per evaluation: {"step", "tokens", "valLoss", "trainLoss", "seconds"}.
"""
import argparse, copy, json, math, os, sys, time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from importlib import import_module

Gpt = import_module('torch-gpt').Gpt


def load(path, context):
    text = open(path, encoding='utf-8').read()
    vocab = sorted(set(text))
    ids = torch.tensor([vocab.index(c) for c in text] if len(text) < 1000 else
                       list(map({c: i for i, c in enumerate(vocab)}.__getitem__, text)), dtype=torch.long)
    n = int(len(ids) * 0.9)
    return vocab, ids[:n], ids[n:]


def windows(ids, context):
    count = (len(ids) - context - 1) // context + 1
    starts = torch.arange(count) * context
    offsets = torch.arange(context)
    return ids[starts[:, None] + offsets], ids[starts[:, None] + offsets + 1]


def lr_at(step, a, total):
    # step is 1-based, as the coordinator's schedule counts.
    if step <= a.warmup:
        return a.lr * step / a.warmup
    progress = min(1.0, (step - a.warmup) / max(1, total - a.warmup))
    final = a.lr * a.final_fraction
    return final + 0.5 * (a.lr - final) * (1 + math.cos(math.pi * progress))


def optimizer(model, a):
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{'params': decay, 'weight_decay': 0.1}, {'params': rest, 'weight_decay': 0.0}],
                             lr=a.lr, betas=(0.9, 0.99), eps=1e-8)


@torch.no_grad()
def evaluate(model, x, y, vocabulary):
    model.eval()
    total = 0.0
    for i in range(0, len(x), 500):
        logits = model(x[i:i + 500])
        total += F.cross_entropy(logits.reshape(-1, vocabulary), y[i:i + 500].reshape(-1), reduction='sum').item()
    model.train()
    return total / y.numel()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--text', default=os.path.join(os.path.dirname(__file__), '..', 'datasets', 'tinyshakespeare', 'input.txt'))
    p.add_argument('--batch', type=int, default=12)
    p.add_argument('--lr', type=float, default=1e-3)
    p.add_argument('--warmup', type=int, default=100)
    p.add_argument('--final-fraction', type=float, default=0.1)
    p.add_argument('--steps', type=int, default=2000)
    p.add_argument('--eval-every', type=int, default=250)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--sampling', choices=['windows', 'random'], default='windows')
    p.add_argument('--workers', type=int, default=1)
    p.add_argument('--inner-steps', type=int, default=0)
    p.add_argument('--outer-lr', type=float, default=0.7)
    p.add_argument('--outer-momentum', type=float, default=0.9)
    p.add_argument('--target', type=float, default=0.0, help='stop at this validation loss')
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    context, layers, heads, features = 64, 4, 4, 128
    vocab, train, val = load(a.text, context)
    v = len(vocab)
    tx, ty = windows(train, context)
    vx, vy = windows(val, context)
    model = Gpt(layers, heads, features, context, v)
    for name, prm in model.named_parameters():  # GPT-2's init, as the job's layers say
        if prm.dim() >= 2:
            torch.nn.init.normal_(prm, 0.0, 0.02 / math.sqrt(2 * layers) if name.endswith(('proj.weight', 'out.weight')) else 0.02)
        else:
            torch.nn.init.zeros_(prm) if name.endswith('bias') else torch.nn.init.ones_(prm)
    order, cursor, epoch = torch.randperm(len(tx)), 0, 0

    def batch(size):
        nonlocal order, cursor, epoch
        if a.sampling == 'random':
            starts = torch.randint(0, len(train) - context - 1, (size,))
            offs = torch.arange(context)
            return train[starts[:, None] + offs], train[starts[:, None] + offs + 1]
        if cursor + size > len(order):
            order, cursor, epoch = torch.randperm(len(tx)), 0, epoch + 1
        pick = order[cursor:cursor + size]
        cursor += size
        return tx[pick], ty[pick]

    def step_on(m, opt, step, total, x, y):
        for g in opt.param_groups:
            g['lr'] = lr_at(step, a, total)
        loss = F.cross_entropy(m(x).reshape(-1, v), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        return loss.item()

    t0 = time.perf_counter()
    tokens, losses = 0, []
    if a.inner_steps == 0:
        opt = optimizer(model, a)
        for step in range(1, a.steps + 1):
            x, y = batch(a.batch)
            losses.append(step_on(model, opt, step, a.steps, x, y))
            tokens += x.numel()
            if step % a.eval_every == 0 or step == a.steps:
                val_loss = evaluate(model, vx, vy, v)
                print(json.dumps({'step': step, 'tokens': tokens, 'epoch': epoch, 'valLoss': round(val_loss, 4),
                                  'trainLoss': round(sum(losses) / len(losses), 4), 'seconds': round(time.perf_counter() - t0, 1)}), flush=True)
                losses = []
                if val_loss <= a.target:
                    break
        return
    # Local steps as the job runs them (src/coordinator/job.ts innerHyper): each round every
    # worker runs inner_steps from the shared parameters with a fresh AdamW (a lease's state is
    # its own, so a replica can recompute it) at the rate the schedule gives round r + 1 of
    # rounds + 1 (warm-up counted in rounds); the outer Nesterov step takes the mean Δ.
    rounds = a.steps // a.inner_steps
    momentum = [torch.zeros_like(q) for q in model.parameters()]
    for r in range(1, rounds + 1):
        deltas = [torch.zeros_like(q) for q in model.parameters()]
        for _ in range(a.workers):
            m = copy.deepcopy(model)
            opt = optimizer(m, a)
            for h in range(a.inner_steps):
                x, y = batch(a.batch)
                losses.append(step_on(m, opt, r, rounds + 1, x, y))
                tokens += x.numel()
            for d, q, w in zip(deltas, model.parameters(), m.parameters()):
                d += (q.data - w.data) / a.workers
        with torch.no_grad():
            for q, d, buf in zip(model.parameters(), deltas, momentum):
                buf.mul_(a.outer_momentum).add_(d)
                q.sub_(a.outer_lr * (d + a.outer_momentum * buf))
        if (r * a.inner_steps) % a.eval_every < a.inner_steps or r == rounds:
            val_loss = evaluate(model, vx, vy, v)
            print(json.dumps({'round': r, 'step': r * a.inner_steps, 'tokens': tokens, 'valLoss': round(val_loss, 4),
                              'trainLoss': round(sum(losses) / len(losses), 4), 'seconds': round(time.perf_counter() - t0, 1)}), flush=True)
            losses = []
            if val_loss <= a.target:
                break

if __name__ == '__main__':
    main()
