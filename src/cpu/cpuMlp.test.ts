// The CPU MLP in Node: one thread on the caller's thread, the same tests as in Chromium.
import { defineCpuMlpTests } from './cpuMlp.testSuite.ts';

defineCpuMlpTests(1);
