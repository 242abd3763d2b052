#!/usr/bin/env python3
"""PyTorch CPU eager baseline for scripts/bench-gpt.ts: the same GPT (src/model/layers/gpt.ts:
pre-norm blocks, biases everywhere, tanh GELU, causal scaled_dot_product_attention, a head tied
to the token embedding), random windows of the same size, AdamW, --threads intra-op threads
(1 by default). Prints one JSON line: {"tokensPerSecond": …, "version": …}.

  python3 scripts/torch-gpt.py [--layers 4 --heads 4 --features 128 --context 64 --vocabulary 65 --batch 12 --steps 20 --warmup 3 --threads 1]
"""
import argparse, json, time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, c, heads):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(c), nn.LayerNorm(c)
        self.qkv, self.proj = nn.Linear(c, 3 * c), nn.Linear(c, c)
        self.fc, self.out = nn.Linear(c, 4 * c), nn.Linear(4 * c, c)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        heads = lambda z: z.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        o = F.scaled_dot_product_attention(heads(q), heads(k), heads(v), is_causal=True)
        x = x + self.proj(o.transpose(1, 2).reshape(b, t, c))
        return x + self.out(F.gelu(self.fc(self.ln2(x)), approximate='tanh'))


class Gpt(nn.Module):
    def __init__(self, layers, heads, c, context, vocabulary):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocabulary, c), nn.Embedding(context, c)
        self.blocks = nn.ModuleList(Block(c, heads) for _ in range(layers))
        self.ln = nn.LayerNorm(c)

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for block in self.blocks:
            x = block(x)
        return self.ln(x) @ self.wte.weight.t()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in [('layers', 4), ('heads', 4), ('features', 128), ('context', 64), ('vocabulary', 65), ('batch', 12), ('steps', 20), ('warmup', 3), ('threads', 1)]:
        p.add_argument(f'--{name}', type=int, default=default)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(1)
    model = Gpt(a.layers, a.heads, a.features, a.context, a.vocabulary)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
    elapsed = 0.0
    for step in range(a.warmup + a.steps):
        idx = torch.randint(0, a.vocabulary, (a.batch, a.context))
        targets = torch.randint(0, a.vocabulary, (a.batch, a.context))
        t0 = time.perf_counter()
        loss = F.cross_entropy(model(idx).view(-1, a.vocabulary), targets.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step >= a.warmup:
            elapsed += time.perf_counter() - t0
    print(json.dumps({'tokensPerSecond': a.steps * a.batch * a.context / elapsed, 'version': torch.__version__}))


if __name__ == '__main__':
    main()
