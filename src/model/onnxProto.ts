// The generated protobufjs classes for onnx.proto, imported in the one way that works
// everywhere. `onnx-proto` is CommonJS (`module.exports = root`): Node's ESM loader exposes
// it only as `default` (no named exports are detected), and Vite's pre-bundling does the
// same, so a named `import { onnx }` would be undefined at run time in Node. The default
// import typechecks through allowSyntheticDefaultImports (implied by moduleResolution
// "Bundler").
//
// The schema is ONNX v1.10.2's onnx.proto (IR version 8); the messages this project writes
// have not changed since.

import onnxProtoRoot from 'onnx-proto';

export const onnx = onnxProtoRoot.onnx;
// Re-export the namespace's types (IModelProto, TensorProto.DataType, …) under the same name.
export type { onnx as OnnxTypes } from 'onnx-proto';
