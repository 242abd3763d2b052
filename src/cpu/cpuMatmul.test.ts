// The CPU matmul in Node, on one thread.
import { defineCpuMatmulTests } from './cpuMatmul.testSuite.ts';

defineCpuMatmulTests(1, ['plain']);
