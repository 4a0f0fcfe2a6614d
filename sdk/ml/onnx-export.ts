/**
 * ONNX export of a softmax logistic regression:
 *
 *   input float32[N, dim] → Gemm(input, W[classes, dim], b[classes], transB = 1) → logits
 *                         → Softmax(axis = -1) → probabilities float32[N, classes]
 *
 * IR version 7, default-domain opset 13, float32 initializers stored little-endian in `raw_data`.
 * Built with the `onnx-proto` protobuf bindings; `decodeLogRegOnnx` reads such a model back.
 */
import { createRequire } from "node:module";
import type onnxProto from "onnx-proto";
import type { LogRegWeights } from "./logreg.ts";

let bindings: typeof onnxProto.onnx | undefined;
/**
 * The protobuf bindings, loaded on first use (a CommonJS package, so synchronously): ≈ 0.1 s of CPU that every
 * process importing the sdk's ML module paid at start-up, though only exporting and decoding a model use them.
 */
function onnxBindings(): typeof onnxProto.onnx {
  bindings ??= (createRequire(import.meta.url)("onnx-proto") as typeof onnxProto).onnx;
  return bindings;
}

export const ONNX_OPSET = 13;
export const ONNX_IR_VERSION = 7;
export const ONNX_INPUT = "input";
export const ONNX_OUTPUT = "probabilities";

export interface OnnxExportOptions {
  /** Graph name; default `logreg`. */
  graphName?: string;
  /** Free-form `metadata_props` (e.g. package name and version). */
  metadata?: Record<string, string>;
}

export function exportLogRegOnnx(
  weights: LogRegWeights,
  options: OnnxExportOptions = {},
): Uint8Array {
  const { classes, dim } = weights;
  const onnx = onnxBindings();
  const INT = onnx.AttributeProto.AttributeType.INT;
  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  const model = onnx.ModelProto.create({
    irVersion: ONNX_IR_VERSION,
    producerName: "dml",
    producerVersion: "1",
    opsetImport: [{ domain: "", version: ONNX_OPSET }],
    metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: options.graphName ?? "logreg",
      node: [
        {
          name: "gemm",
          opType: "Gemm",
          input: [ONNX_INPUT, "W", "b"],
          output: ["logits"],
          attribute: [{ name: "transB", type: INT, i: 1 }],
        },
        {
          name: "softmax",
          opType: "Softmax",
          input: ["logits"],
          output: [ONNX_OUTPUT],
          attribute: [{ name: "axis", type: INT, i: -1 }],
        },
      ],
      initializer: [
        { name: "W", dims: [classes, dim], dataType: FLOAT, rawData: float32LE(weights.W) },
        { name: "b", dims: [classes], dataType: FLOAT, rawData: float32LE(weights.b) },
      ],
      input: [tensorInfo(ONNX_INPUT, dim)],
      output: [tensorInfo(ONNX_OUTPUT, classes)],
    },
  });
  // protobufjs may hand back a Buffer: copy into a plain Uint8Array.
  return Uint8Array.from(onnx.ModelProto.encode(model).finish());
}

export class OnnxModelFormatError extends Error {
  override readonly name = "OnnxModelFormatError";
}

/** Reads the weights back from a model produced by {@link exportLogRegOnnx}. */
export function decodeLogRegOnnx(bytes: Uint8Array): LogRegWeights {
  const onnx = onnxBindings();
  let model: ReturnType<typeof onnx.ModelProto.decode>;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new OnnxModelFormatError(`not an ONNX model: ${(e as Error).message}`);
  }
  const init = model.graph?.initializer ?? [];
  const w = init.find((t) => t.name === "W");
  const b = init.find((t) => t.name === "b");
  const wDims = w?.dims ?? [];
  const bDims = b?.dims ?? [];
  if (!w || !b || wDims.length !== 2 || bDims.length !== 1) {
    throw new OnnxModelFormatError("model has no W[classes, dim] and b[classes] initializers");
  }
  const classes = Number(wDims[0]);
  const dim = Number(wDims[1]);
  if (Number(bDims[0]) !== classes)
    throw new OnnxModelFormatError("W and b disagree on the class count");
  const W = fromFloat32LE(w.rawData, classes * dim);
  const bias = fromFloat32LE(b.rawData, classes);
  return { classes, dim, W, b: bias };
}

function tensorInfo(name: string, width: number) {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnxBindings().TensorProto.DataType.FLOAT,
        shape: { dim: [{ dimParam: "N" }, { dimValue: width }] },
      },
    },
  };
}

function float32LE(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return out;
}

function fromFloat32LE(raw: Uint8Array | null | undefined, count: number): Float32Array {
  if (!raw || raw.length !== count * 4) {
    throw new OnnxModelFormatError(
      `initializer holds ${raw?.length ?? 0} bytes, expected ${count * 4}`,
    );
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}
