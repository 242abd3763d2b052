// Every benchmark suite, in the order a session runs them. Add a suite here and the page,
// `npm run bench` and the JSON report pick it up.

import { createAttentionCpuSuite, createAttentionGpuSuite } from './attention/suite.ts';
import { createCnnCpuSuite } from './cnn/cpuSuite.ts';
import { createCnnGpuSuite } from './cnn/gpuSuite.ts';
import { createCpuMatmulSuite } from './cpuMatmulSuite.ts';
import { createCpuMlpSuite } from './cpuMlpSuite.ts';
import { createMatmulSuite } from './matmul/suite.ts';
import { createMlpSuite } from './mlp/suite.ts';
import { BenchSettingsError, type BenchSettings } from './settings.ts';
import type { BenchSuite } from './suite.ts';

export function benchSuites(settings: BenchSettings): BenchSuite[] {
  const all = [createMatmulSuite(settings), createMlpSuite(settings), createCpuMatmulSuite(settings), createCpuMlpSuite(settings), createCnnGpuSuite(settings), createCnnCpuSuite(settings), createAttentionGpuSuite(settings), createAttentionCpuSuite(settings)];
  if (!settings.suites) return all;
  const unknown = settings.suites.filter((id) => !all.some((s) => s.id === id));
  const chosen = all.filter((s) => settings.suites!.includes(s.id));
  if (unknown.length === 0) return chosen;
  // A suite that fails, rather than a throw: the session still ends, with the mistake as a failed check.
  const message = `No benchmark suite ${unknown.map((id) => `"${id}"`).join(', ')}; the suites are ${all.map((s) => s.id).join(', ')}`;
  return [{ id: 'unknown-suites', title: 'suites named in the URL', run: () => Promise.reject(new BenchSettingsError(message)) }, ...chosen];
}
