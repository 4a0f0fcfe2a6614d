/**
 * ONNX Runtime (onnxruntime-node, CPU) wrapper for classifier packages: a session created from model
 * bytes, batched float32 inference, explicit release.
 */
import * as ort from "onnxruntime-node";
import { ONNX_INPUT, ONNX_OUTPUT } from "./onnx-export.ts";

export class OnnxInferenceError extends Error {
  override readonly name = "OnnxInferenceError";
}

export class OnnxClassifier {
  readonly #session: ort.InferenceSession;
  readonly dim: number;
  readonly classes: number;

  private constructor(session: ort.InferenceSession, dim: number, classes: number) {
    this.#session = session;
    this.dim = dim;
    this.classes = classes;
  }

  /**
   * Loads a model whose graph maps `input[N, dim]` to `probabilities[N, classes]`.
   * `dim` and `classes` come from the caller (the package manifest) and are checked on first use.
   */
  static async load(model: Uint8Array, dim: number, classes: number): Promise<OnnxClassifier> {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(model, {
        executionProviders: ["cpu"],
        intraOpNumThreads: 1,
        interOpNumThreads: 1,
        graphOptimizationLevel: "all",
      });
    } catch (e) {
      throw new OnnxInferenceError(`ONNX Runtime rejected the model: ${(e as Error).message}`);
    }
    if (!session.inputNames.includes(ONNX_INPUT) || !session.outputNames.includes(ONNX_OUTPUT)) {
      await session.release();
      throw new OnnxInferenceError(
        `model must have input "${ONNX_INPUT}" and output "${ONNX_OUTPUT}", has ${session.inputNames.join(",")} → ${session.outputNames.join(",")}`,
      );
    }
    return new OnnxClassifier(session, dim, classes);
  }

  /** Class probabilities of each row (float32, as ORT computes them). */
  async run(rows: readonly Float32Array[]): Promise<Float32Array[]> {
    if (rows.length === 0) return [];
    const input = new Float32Array(rows.length * this.dim);
    rows.forEach((row, i) => {
      if (row.length !== this.dim) {
        throw new OnnxInferenceError(
          `row ${i} has ${row.length} features, model expects ${this.dim}`,
        );
      }
      input.set(row, i * this.dim);
    });
    const out = await this.#session.run({
      [ONNX_INPUT]: new ort.Tensor("float32", input, [rows.length, this.dim]),
    });
    const probs = out[ONNX_OUTPUT];
    if (
      !probs ||
      !(probs.data instanceof Float32Array) ||
      probs.data.length !== rows.length * this.classes
    ) {
      throw new OnnxInferenceError(`model output is not float32[${rows.length}, ${this.classes}]`);
    }
    const data = probs.data;
    return rows.map((_, i) => data.slice(i * this.classes, (i + 1) * this.classes));
  }

  async release(): Promise<void> {
    await this.#session.release();
  }
}
