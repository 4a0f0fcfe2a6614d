/** Typed errors raised by the chain helpers and the deployment script. */

/** Base class: every chain-helper error carries a stable `code`. */
export class ChainError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A compiled artifact could not be found (run `npx hardhat build`) or is malformed. */
export class ArtifactError extends ChainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ARTIFACT", message, options);
  }
}

/** A deployment manifest is missing, unreadable or fails schema validation. */
export class ManifestError extends ChainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("MANIFEST", message, options);
  }
}

/** A deployment configuration (file, flags or env) is invalid. */
export class ConfigError extends ChainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("CONFIG", message, options);
  }
}

/** A deployment step failed or left the chain in a state the script cannot resume from. */
export class DeploymentError extends ChainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("DEPLOYMENT", message, options);
  }
}

/** An RPC endpoint did not answer, or answered for an unexpected chain. */
export class RpcError extends ChainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("RPC", message, options);
  }
}
