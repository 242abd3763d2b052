// Every benchmark suite, in the order a session runs them. Add a suite here and the page,
// `npm run bench` and the JSON report pick it up.

import { createCpuMatmulSuite } from './cpuMatmulSuite.ts';
import { createCpuMlpSuite } from './cpuMlpSuite.ts';
import { createMatmulSuite } from './matmul/suite.ts';
import { createMlpSuite } from './mlp/suite.ts';
import type { BenchSettings } from './settings.ts';
import type { BenchSuite } from './suite.ts';

export function benchSuites(settings: BenchSettings): BenchSuite[] {
  return [createMatmulSuite(settings), createMlpSuite(settings), createCpuMatmulSuite(settings), createCpuMlpSuite(settings)];
}
