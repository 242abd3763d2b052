#!/usr/bin/env python3
"""Golden gradients from PyTorch for the layer table (src/model/layers), in float64.

For each model below (a layer list in the job's `model` form), builds it from torch.nn.functional
ops, draws fixed parameters and a fixed batch from a seeded generator, and writes
test/fixtures/torch-goldens/<name>.json with: the model spec, the batch (inputs, labels, and
dropout's seed and positions), the parameter layout (name, offset, shape of each tensor),
the parameters and every gradient as flat vectors in OUR layout (src/model/layers/spec.ts:
weights first, then the rest, each on a 64-float boundary; a linear weight stored
[fanIn, fanOut], a conv2d weight [inC, kh, kw, outC]), the logits and the mean loss.
src/model/layers/torchGoldens.test.ts compares the f64 table against them; it needs no torch.

Dropout is ours, not torch's: the mask is the counter hash of src/model/layers/dropout.ts,
re-implemented here, so the fixture also checks that the hash is portable.

  python3 scripts/torch-goldens.py [--out test/fixtures/torch-goldens]
"""
import argparse, json, math, os

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
ALIGN = 64  # SEGMENT_ALIGN_FLOATS in src/model/mlp.ts
M32 = 0xFFFFFFFF

SCE = {'kind': 'softmax-cross-entropy'}
MODELS = {
    'cnn': {
        'model': {
            'input': [2, 9, 9],
            'layers': [
                {'kind': 'conv2d', 'outChannels': 4, 'kernel': 3, 'padding': 1},
                {'kind': 'relu'},
                {'kind': 'maxpool2d', 'kernel': 2},
                {'kind': 'residual', 'layers': [{'kind': 'conv2d', 'outChannels': 4, 'kernel': 3, 'padding': 1}, {'kind': 'gelu'}]},
                {'kind': 'conv2d', 'outChannels': 6, 'kernel': [2, 3], 'stride': [1, 1]},
                {'kind': 'relu'},
                {'kind': 'avgpool2d', 'kernel': 2, 'stride': 1},
                {'kind': 'flatten'},
                {'kind': 'linear', 'outFeatures': 10},
                {'kind': 'layernorm'},
                {'kind': 'gelu'},
                {'kind': 'dropout', 'p': 0.25},
                {'kind': 'linear', 'outFeatures': 5},
                SCE,
            ],
        },
        'batch': 4,
    },
    'mlp': {'model': {'widths': [12, 9, 7, 4], 'activation': 'gelu'}, 'batch': 5},
    # A GPT-2 block twice over (pre-norm, as nanoGPT): odd sizes on purpose (3 heads of size 3,
    # context 7), the head tied to the embedding, dropout inside the MLP's branch.
    'gpt': {
        'model': {
            'input': [7],
            'layers': [
                {'kind': 'embedding', 'vocabulary': 11, 'features': 9},
                {'kind': 'position-embedding'},
                {'kind': 'residual', 'layers': [{'kind': 'layernorm'}, {'kind': 'attention', 'heads': 3}]},
                {'kind': 'residual', 'layers': [
                    {'kind': 'layernorm'}, {'kind': 'linear', 'outFeatures': 36}, {'kind': 'gelu'},
                    {'kind': 'linear', 'outFeatures': 9}, {'kind': 'dropout', 'p': 0.2}]},
                {'kind': 'residual', 'layers': [{'kind': 'layernorm'}, {'kind': 'attention', 'heads': 3}]},
                {'kind': 'layernorm'},
                {'kind': 'lm-head'},
                SCE,
            ],
        },
        'batch': 3,
    },
    # One head of size 5 over a context of 5, an untied head.
    'gpt-untied': {
        'model': {
            'input': [5],
            'layers': [
                {'kind': 'embedding', 'vocabulary': 6, 'features': 5},
                {'kind': 'position-embedding'},
                {'kind': 'residual', 'layers': [{'kind': 'layernorm'}, {'kind': 'attention', 'heads': 1}]},
                {'kind': 'layernorm'},
                {'kind': 'lm-head', 'tied': False},
                SCE,
            ],
        },
        'batch': 2,
    },
}


def mlp_to_layers(spec):
    """The MLP shorthand as a layer list, as mlpToLayers in spec.ts."""
    layers = []
    widths = spec['widths']
    for l in range(1, len(widths)):
        layers.append({'kind': 'linear', 'outFeatures': widths[l]})
        if l + 1 < len(widths):
            layers.append({'kind': spec['activation']})
    return {'input': [widths[0]], 'layers': layers + [SCE]}


def pair(v):
    return (v, v) if isinstance(v, int) else (v[0], v[1])


def mix32(z):
    """splitmix32's output function, as dropout.ts mix32."""
    z = ((z ^ (z >> 16)) * 0x21F0AAAD) & M32
    z = ((z ^ (z >> 15)) * 0x735A2D97) & M32
    return z ^ (z >> 15)


def dropout_hash(seed, position, layer, unit):
    h = mix32((seed + 0x9E3779B9) & M32)
    h = mix32(((h ^ position) + 0x9E3779B9) & M32)
    h = mix32(((h ^ layer) + 0x9E3779B9) & M32)
    return mix32(((h ^ unit) + 0x9E3779B9) & M32)


class Model:
    """Walks the layer list once to name tensors (as resolveModel does) and again per forward."""

    def __init__(self, spec, gen):
        self.spec = spec
        self.tensors = []  # dicts: name, ours (storage shape), decay, torch (leaf tensor)
        self.ordinal = 0
        self.plan = self.resolve(spec['layers'], list(spec['input']), '')
        decayed = [t for t in self.tensors if t['decay']]
        rest = [t for t in self.tensors if not t['decay']]
        offset = 0
        for t in decayed + rest:
            t['offset'] = offset
            offset = math.ceil((offset + math.prod(t['ours'])) / ALIGN) * ALIGN
        self.tensors = decayed + rest
        self.total = offset
        for t in self.tensors:
            t['torch'] = self.draw(t, gen)

    def tensor(self, path, kind, role, torch_shape, ours, decay, fan_in=None, part=None):
        name = f'{path}.{kind}.{part}.{role}' if part else f'{path}.{kind}.{role}'
        t = {'name': name, 'transpose': False, 'torch_shape': torch_shape, 'ours': ours, 'decay': decay, 'fan_in': fan_in, 'role': role, 'kind': kind}
        self.tensors.append(t)
        return t

    @staticmethod
    def draw(t, gen):
        """Fixed parameters, rounded to 6 significant digits so the JSON stays short (both sides read the same doubles)."""
        x = torch.randn(t['torch_shape'], generator=gen)
        if t['role'] == 'weight' and t['kind'] != 'layernorm' and t['fan_in']:
            x = x / math.sqrt(t['fan_in'])
        elif t['kind'] == 'layernorm' and t['role'] == 'weight':
            x = 1 + 0.2 * x
        else:
            x = 0.2 * x
        x = torch.tensor([float('%.6g' % v) for v in x.flatten().tolist()]).reshape(t['torch_shape'])
        return x.requires_grad_(True)

    def resolve(self, layers, shape, prefix):
        plan = []
        for i, layer in enumerate(layers):
            path, kind = f'{prefix}{i}', layer['kind']
            step = {'layer': layer, 'ordinal': self.ordinal, 'shape': list(shape)}
            self.ordinal += 1
            if kind == 'linear':
                # On a sequence [T, C] the same weights map each position.
                fan_in, out = shape[-1], layer['outFeatures']
                step['w'] = self.tensor(path, kind, 'weight', (out, fan_in), [fan_in, out], True, fan_in)
                step['w']['transpose'] = True
                step['b'] = self.tensor(path, kind, 'bias', (out,), [out], False)
                shape = shape[:-1] + [out]
            elif kind == 'embedding':
                v, c = layer['vocabulary'], layer['features']
                step['w'] = self.tensor(path, kind, 'weight', (v, c), [v, c], True, c)
                self.embedding = step['w']
                shape = [shape[0], c]
            elif kind == 'position-embedding':
                t, c = shape
                step['w'] = self.tensor(path, kind, 'weight', (t, c), [t, c], True, c)
            elif kind == 'attention':
                t, c = shape
                step['qkv_w'] = self.tensor(path, kind, 'weight', (3 * c, c), [c, 3 * c], True, c, 'qkv')
                step['qkv_b'] = self.tensor(path, kind, 'bias', (3 * c,), [3 * c], False, None, 'qkv')
                step['proj_w'] = self.tensor(path, kind, 'weight', (c, c), [c, c], True, c, 'projection')
                step['proj_b'] = self.tensor(path, kind, 'bias', (c,), [c], False, None, 'projection')
                step['qkv_w']['transpose'] = step['proj_w']['transpose'] = True
            elif kind == 'lm-head':
                t, c = shape
                v = self.embedding['ours'][0]
                if layer.get('tied', True):
                    step['w'] = self.embedding  # torch's F.linear(x, E) is x·Eᵀ, as our tied head
                else:
                    step['w'] = self.tensor(path, kind, 'weight', (v, c), [c, v], True, c)
                    step['w']['transpose'] = True
                shape = [t, v]
            elif kind == 'conv2d':
                c, h, w = shape
                (kh, kw), (sh, sw), (ph, pw) = pair(layer['kernel']), pair(layer.get('stride', 1)), pair(layer.get('padding', 0))
                co = layer['outChannels']
                step['w'] = self.tensor(path, kind, 'weight', (co, c, kh, kw), [c, kh, kw, co], True, c * kh * kw)
                step['b'] = self.tensor(path, kind, 'bias', (co,), [co], False)
                shape = [co, (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1]
            elif kind in ('maxpool2d', 'avgpool2d'):
                c, h, w = shape
                (kh, kw), (sh, sw) = pair(layer['kernel']), pair(layer.get('stride', layer['kernel']))
                shape = [c, (h - kh) // sh + 1, (w - kw) // sw + 1]
            elif kind == 'flatten':
                shape = [math.prod(shape)]
            elif kind == 'layernorm':
                # A sequence normalises each position's features, any other shape the whole example.
                norm = shape[-1:] if len(shape) == 2 else shape
                n = math.prod(norm)
                step['norm'] = norm
                step['w'] = self.tensor(path, kind, 'weight', tuple(norm), [n], False)
                step['b'] = self.tensor(path, kind, 'bias', tuple(norm), [n], False)
            elif kind == 'residual':
                step['inner'] = self.resolve(layer['layers'], shape, f'{path}.')
            plan.append(step)
        return plan

    def forward(self, plan, x, dropout):
        for step in plan:
            layer, kind = step['layer'], step['layer']['kind']
            if kind == 'linear':
                x = F.linear(x, step['w']['torch'], step['b']['torch'])
            elif kind == 'conv2d':
                x = F.conv2d(x, step['w']['torch'], step['b']['torch'], stride=pair(layer.get('stride', 1)), padding=pair(layer.get('padding', 0)))
            elif kind == 'maxpool2d':
                x = F.max_pool2d(x, pair(layer['kernel']), pair(layer.get('stride', layer['kernel'])))
            elif kind == 'avgpool2d':
                x = F.avg_pool2d(x, pair(layer['kernel']), pair(layer.get('stride', layer['kernel'])))
            elif kind == 'flatten':
                x = x.flatten(1)
            elif kind == 'relu':
                x = F.relu(x)
            elif kind == 'gelu':
                x = F.gelu(x, approximate='tanh')
            elif kind == 'layernorm':
                x = F.layer_norm(x, step['norm'], step['w']['torch'], step['b']['torch'], eps=layer.get('eps', 1e-5))
            elif kind == 'embedding':
                x = F.embedding(x.long(), step['w']['torch'])
            elif kind == 'position-embedding':
                x = x + step['w']['torch']
            elif kind == 'attention':
                b, t, c = x.shape
                h = layer['heads']
                q, k, v = F.linear(x, step['qkv_w']['torch'], step['qkv_b']['torch']).split(c, dim=2)
                heads = lambda z: z.reshape(b, t, h, c // h).transpose(1, 2)
                o = F.scaled_dot_product_attention(heads(q), heads(k), heads(v), is_causal=True)
                x = F.linear(o.transpose(1, 2).reshape(b, t, c), step['proj_w']['torch'], step['proj_b']['torch'])
            elif kind == 'lm-head':
                x = F.linear(x, step['w']['torch'])
            elif kind == 'dropout':
                p = layer['p']
                threshold = min(round(p * 2**32), 2**32 - 1)
                units = math.prod(step['shape'])
                mask = torch.tensor([[1.0 if dropout_hash(dropout['seed'], pos, step['ordinal'], u) >= threshold else 0.0
                                      for u in range(units)] for pos in dropout['positions']])
                x = x * mask.reshape(x.shape) / (1 - p)
            elif kind == 'residual':
                x = x + self.forward(step['inner'], x, dropout)
            elif kind == 'softmax-cross-entropy':
                pass  # the caller applies the loss to the logits
            else:
                raise ValueError(f'no torch rule for layer kind {kind!r}')
        return x

    def flat(self, which):
        """Parameters (which='data') or gradients (which='grad') as one vector in our layout."""
        out = [0.0] * self.total
        for t in self.tensors:
            v = getattr(t['torch'], which)
            if t['transpose']:
                v = v.t()  # torch [out, in] → ours [in, out]
            elif t['kind'] == 'conv2d' and t['role'] == 'weight':
                v = v.permute(1, 2, 3, 0)  # torch [outC, inC, kh, kw] → ours [inC, kh, kw, outC]
            out[t['offset']:t['offset'] + v.numel()] = v.contiguous().flatten().tolist()
        return out


def golden(name, entry, seed):
    spec = entry['model']
    general = spec if 'layers' in spec else mlp_to_layers(spec)
    gen = torch.Generator().manual_seed(seed)
    model = Model(general, gen)
    batch = entry['batch']
    tokens = general['layers'][0]['kind'] == 'embedding'
    if tokens:
        # Token ids in, the next token of each position as its label.
        vocabulary, context = general['layers'][0]['vocabulary'], general['input'][0]
        inputs = torch.randint(0, vocabulary, (batch * context,), generator=gen).double()
        classes, labels = vocabulary, torch.randint(0, vocabulary, (batch * context,), generator=gen)
    else:
        inputs = torch.tensor([float('%.6g' % v) for v in torch.randn(batch * math.prod(general['input']), generator=gen).tolist()])
        classes = general['layers'][-2]['outFeatures']  # both image models end in linear, then the loss
        labels = torch.randint(0, classes, (batch,), generator=gen)
    dropout = {'seed': 2024, 'positions': [int(p) for p in torch.randint(0, 60000, (batch,), generator=gen)]}
    logits = model.forward(model.plan, inputs.reshape([batch] + general['input']), dropout)
    loss = F.cross_entropy(logits.reshape(-1, classes), labels)  # mean over every label (B·T for a sequence)
    loss.backward()
    return {
        'about': f'scripts/torch-goldens.py, torch {torch.__version__}, float64; flat vectors in src/model/layers/spec.ts layout',
        'model': spec,
        'batch': batch,
        'inputs': inputs.tolist(),
        'labels': labels.tolist(),
        'dropout': dropout,
        'tensors': [{'name': t['name'], 'offset': t['offset'], 'shape': t['ours']} for t in model.tensors],
        'total': model.total,
        'params': model.flat('data'),
        'logits': logits.detach().flatten().tolist(),
        'loss': loss.item(),
        'gradient': model.flat('grad'),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='test/fixtures/torch-goldens')
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for i, (name, entry) in enumerate(MODELS.items()):
        path = os.path.join(args.out, f'{name}.json')
        with open(path, 'w') as f:
            json.dump(golden(name, entry, 1000 + i), f, separators=(',', ':'))
            f.write('\n')
        print(f'{path}: {os.path.getsize(path):,} bytes')


if __name__ == '__main__':
    main()
