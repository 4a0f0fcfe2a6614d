/** ML core: reference data, featurizers, softmax logistic regression, ONNX, algorithm packages. */
export { Prng } from "./prng.ts";
export { murmur3_32, murmur3_32_utf8 } from "./murmur3.ts";
export { htmlToText, parseEmail, type ParsedEmail } from "./email.ts";
export {
  CORPUS_PARSER_VERSION,
  DEFAULT_DATA_DIR,
  emailSchema,
  emailText,
  LABELS,
  labelOfGroup,
  loadCorpus,
  loadRawCorpus,
  readCorpusCache,
  type Email,
  type Label,
  type LoadCorpusOptions,
} from "./corpus.ts";
export {
  allDeviceEmails,
  apportion,
  DEFAULT_SPLIT_PARAMS,
  spamRatio,
  splitCorpus,
  splitParamsSchema,
  type Inbox,
  type Split,
  type SplitParams,
} from "./dataset.ts";
export {
  DEFAULT_HASHED_BOW_PARAMS,
  featurizerSpecSchema,
  getFeaturizer,
  HASHED_BOW_ID,
  HASHED_BOW_VERSION,
  hashedBowParamsSchema,
  hashedBowSpec,
  InvalidFeaturizerParamsError,
  knownFeaturizers,
  tokenize,
  UnknownFeaturizerError,
  type Featurizer,
  type FeaturizerSpec,
  type HashedBowParams,
} from "./featurizer.ts";
export {
  accuracy,
  DEFAULT_TRAIN_OPTIONS,
  flatten,
  forward,
  logits,
  LogRegShapeError,
  loss,
  parameterCount,
  predict,
  train,
  trainFrom,
  trainOptionsSchema,
  unflatten,
  zeroWeights,
  type LabelledVectors,
  type LogRegWeights,
  type TrainOptions,
} from "./logreg.ts";
export { applyDelta, clipL2, l2Norm, weightDelta } from "./update.ts";
export {
  decodeLogRegOnnx,
  exportLogRegOnnx,
  ONNX_INPUT,
  ONNX_IR_VERSION,
  ONNX_OPSET,
  ONNX_OUTPUT,
  OnnxModelFormatError,
  type OnnxExportOptions,
} from "./onnx-export.ts";
export { OnnxClassifier, OnnxInferenceError } from "./onnx-runtime.ts";
export {
  controlGroupSchema,
  EMAIL_INPUT_SCHEMA,
  inputSchemaSchema,
  MANIFEST_FILE,
  manifestSchema,
  MODEL_FILE,
  recordText,
  type ControlGroup,
  type InputSchema,
  type Manifest,
} from "./manifest.ts";
export {
  buildManifest,
  encodeManifest,
  loadPackage,
  openClassifier,
  PackageError,
  publishPackage,
  sha256Hex,
  type LoadedPackage,
  type PackageErrorCode,
} from "./package.ts";
export { classifyRecords, type Prediction } from "./inference.ts";
export { cliProgress } from "./progress.ts";
export {
  BASELINE_RECIPE,
  buildClassifierPackage,
  buildReferencePackage,
  concatVectors,
  measureConfusion,
  prepareWorkload,
  REFERENCE_RECIPE,
  recordsSha256,
  referenceManifestFields,
  trainBaseline,
  trainReference,
  vectorize,
  type PrepareWorkloadOptions,
  type TrainingRecipe,
  type Workload,
} from "./reference.ts";
export {
  adjustedEstimate,
  classRates,
  clusterSums,
  ratioEstimate,
  shareEstimate,
  tQuantile975,
  Z95,
  type AdjustedEstimate,
  type ClassRates,
  type ClusterSums,
  type Confusion,
  type Estimate,
} from "./estimate.ts";
