// The matmul suite's row names: the table shows them and the checks find rows by them.

export const MATMUL_SUITE_ID = 'matmul';
export const GFLOPS = 'GFLOP/s';
/** Followed by the configuration name, e.g. "ours 4x8_wg8x8_shared". */
export const OURS_PREFIX = 'ours ';
export const REFERENCE_NAME = 'reference 16×16 tiled';
export const ORT_WEBGPU_NAME = 'onnxruntime-web webgpu';
export const ORT_WASM_PREFIX = 'onnxruntime-web wasm';
export const ortWasmName = (threads: number) => `${ORT_WASM_PREFIX}, ${threads} thread${threads === 1 ? '' : 's'}`;
