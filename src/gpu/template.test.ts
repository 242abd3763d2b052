import { describe, expect, it } from 'vitest';
import { renderWgsl } from './template.ts';
import { bucketSize } from './buffers.ts';

describe('renderWgsl', () => {
  it('substitutes values and integer expressions', () => {
    expect(renderWgsl('a ${N} ${N * 4 + 1} ${(N - 1) / 2} ${N % 3} ${NAME}', { N: 7, NAME: 'x' })).toBe('a 7 29 3 1 x');
  });

  it('keeps or drops #if blocks, with #else and negation, nested', () => {
    const src = ['#if A', 'a', '#if !B', 'not b', '#else', 'b', '#endif', '#else', 'no a', '#endif'].join('\n');
    expect(renderWgsl(src, { A: true, B: false })).toBe('a\nnot b');
    expect(renderWgsl(src, { A: true, B: true })).toBe('a\nb');
    expect(renderWgsl(src, { A: false, B: true })).toBe('no a');
  });

  it('unrolls #for blocks, nested, with the loop variable in expressions', () => {
    const src = ['#for i in 2', '#for j in N', 'v${i}_${j} = ${i * N + j};', '#endfor', '#endfor'].join('\n');
    expect(renderWgsl(src, { N: 3 }).split('\n')).toEqual([
      'v0_0 = 0;', 'v0_1 = 1;', 'v0_2 = 2;', 'v1_0 = 3;', 'v1_1 = 4;', 'v1_2 = 5;',
    ]);
  });

  it('does not evaluate #if conditions inside a dropped block', () => {
    expect(renderWgsl('#if A\n#if MISSING\nx\n#endif\n#endif\ny', { A: false, MISSING: true })).toBe('y');
  });

  it('rejects unknown names, bad types and unbalanced blocks with the file and line', () => {
    expect(() => renderWgsl('x ${NOPE}', {}, 'k.wgsl')).toThrow(/k\.wgsl:1: template value \$\{NOPE\} was not given/);
    expect(() => renderWgsl('\n#if N\n#endif', { N: 3 }, 'k.wgsl')).toThrow(/k\.wgsl:2: #if N needs a boolean/);
    expect(() => renderWgsl('#if A\nx', { A: true }, 'k.wgsl')).toThrow(/k\.wgsl:1: #if is never closed/);
    expect(() => renderWgsl('#endif', {}, 'k.wgsl')).toThrow(/#endif without an open #if/);
    expect(() => renderWgsl('#for i in 2\n#endif', {}, 'k.wgsl')).toThrow(/#endif without an open #if/);
    expect(() => renderWgsl('#for i in N\n#endfor', { N: -1 }, 'k.wgsl')).toThrow(/non-negative integer/);
    expect(() => renderWgsl('${N / 0}', { N: 1 }, 'k.wgsl')).toThrow(/division by zero/);
    expect(() => renderWgsl('${N + }', { N: 1 }, 'k.wgsl')).toThrow(/unexpected end/);
    expect(() => renderWgsl('${S * 2}', { S: 'x' }, 'k.wgsl')).toThrow(/S is not a number/);
  });
});

describe('bucketSize', () => {
  it('rounds to powers of two up to 1 MiB, then to whole MiB', () => {
    expect(bucketSize(1)).toBe(256);
    expect(bucketSize(257)).toBe(512);
    expect(bucketSize(4096)).toBe(4096);
    expect(bucketSize((1 << 20) + 1)).toBe(2 << 20);
    expect(bucketSize(5.5 * (1 << 20))).toBe(6 << 20);
  });
});
