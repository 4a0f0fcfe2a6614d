/**
 * Secure aggregation (Bonawitz et al. 2017 with SecAgg+ neighbourhoods, Bell et al. 2020) — PROTOCOL.md §4 step 5.
 * See docs/secagg.md for the protocol, parameters, encoding and measured costs.
 */
export { SecAggError, httpStatusOf } from "./errors.ts";
export type { SecAggErrorCode } from "./errors.ts";
export { makeEncoding, encodeVector, decodeSum } from "./encoding.ts";
export type { FixedPointEncoding } from "./encoding.ts";
export {
  resolveSession,
  defaultDegree,
  defaultThreshold,
  graphSeed,
  harary,
  MAX_DEGREE,
} from "./params.ts";
export type { RosterEntry, SecAggSessionConfig, ResolvedSession } from "./params.ts";
export { MaskAccumulator, MaskGenerator } from "./prg.ts";
export { droppedMasksOf, removeMasks } from "./unmask.ts";
export { UnmaskPool, sharedUnmaskPool } from "./unmask-pool.ts";
export type { UnmaskTask } from "./unmask-pool.ts";
export type { DroppedMasks, UnmaskOptions, UnmaskStats, UnmaskWork } from "./unmask.ts";
export {
  Round,
  SHARE_BYTES,
  SHARE_CIPHERTEXT_BYTES,
  canonicalPayload,
  envelopeOf,
  shareDigest,
  fromJson,
  signBody,
  toJson,
  verifySigned,
  wireSize,
} from "./messages.ts";
export {
  MASKED_BINARY_CONTENT_TYPE,
  MASKED_BINARY_HEADER_BYTES,
  decodeMaskedBinary,
  encodeMaskedBinary,
  transportSize,
} from "./binary.ts";
export {
  certificateSigners,
  checkCertificate,
  shareGroup,
  verifyBySender,
  verifyEnvelopeBySender,
} from "./consistency.ts";
export type {
  AdvertiseBody,
  CertificateEntry,
  ConsistencyBody,
  ConsistencyRequest,
  EncryptedShare,
  MaskedInputBody,
  RevealedShare,
  RoundNumber,
  SecAggBody,
  ShareKeysBody,
  Signed,
  UnmaskBody,
  UnmaskRequest,
} from "./messages.ts";
export { SecAggClient } from "./client.ts";
export type { SecAggAccount } from "./client.ts";
export { SecAggServer } from "./server.ts";
export type {
  RecordedMessage,
  SecAggFault,
  SecAggResult,
  JournalEntry,
  SecAggServerOptions,
  ServerStage,
} from "./server.ts";
export { SessionJournal, decodeJournal, encodeJournalEntry, replayJournal } from "./journal.ts";
export { simulateSession } from "./simulate.ts";
export type { ClientStats, DropPlan, SimulationReport } from "./simulate.ts";
export { SecAggHttpServer } from "./http-server.ts";
export type { HttpSessionOptions, JournaledSessionOptions } from "./http-server.ts";
export { SecAggHttpTransport, runSecAggHttpClient, ResultJson } from "./http-client.ts";
export type { HttpClientRun, PollOptions } from "./http-client.ts";
export {
  TRANSCRIPT_VERSION,
  aggregateHashOf,
  decodeTranscript,
  encodeTranscript,
  transcriptOf,
  transcriptSchema,
} from "./transcript.ts";
export type { AggregationTranscript } from "./transcript.ts";
export {
  MAX_TRANSCRIPT_BYTES,
  TRANSCRIPT_V2_VERSION,
  decodeTranscriptV2,
  encodeTranscriptV2,
  sessionConfigOf,
  transcriptConfigSchema,
  transcriptV2Of,
} from "./transcript-v2.ts";
export type { SessionTranscript, TranscriptConfig } from "./transcript-v2.ts";
export { replayTranscript } from "./replay.ts";
export type { ExpectedSession, ReplayResult } from "./replay.ts";
export { openSealedTranscript, sealTranscript, transcriptContext } from "./sealed-transcript.ts";
export {
  MAX_SEALED_BYTES,
  SealedError,
  openSealed,
  sealBytes,
  sealedContext,
  sealedRecipients,
} from "../crypto/sealed.ts";
export type { SealOpener, SealRecipient, SealedErrorCode } from "../crypto/sealed.ts";
