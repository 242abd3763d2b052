// The committed WebAssembly (src/cpu/wasm/*.generated.ts) is exactly what the AssemblyScript
// sources compile to: rebuilt here from npm packages alone and compared byte for byte.
import { execFileSync } from 'node:child_process';
import { expect, it } from 'vitest';

it('the four WebAssembly builds match src/cpu/assembly/', () => {
  const out = execFileSync(process.execPath, ['scripts/build-wasm.mjs', '--check'], { encoding: 'utf8' });
  expect(out).toContain('the 4 WebAssembly variants match their sources');
}, 60_000);
