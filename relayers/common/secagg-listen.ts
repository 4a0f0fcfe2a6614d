/**
 * The SecAgg HTTP server a role hosts sessions on (the aggregator's cohorts, the refiner's trainer groups): listens
 * at the configured address or fails the start with one `CONFIG_INVALID` line, releasing what the role opened.
 */
import { SecAggHttpServer } from "#sdk/secagg/index.ts";
import { RelayerError } from "./errors.ts";

export async function listenSecAgg(
  config: { listenHost: string; listenPort: number },
  onFailure: () => Promise<void>,
): Promise<{ secagg: SecAggHttpServer; url: string }> {
  const secagg = new SecAggHttpServer({ host: config.listenHost, port: config.listenPort });
  try {
    return { secagg, url: await secagg.listen() };
  } catch (e) {
    await onFailure();
    throw new RelayerError(
      "CONFIG_INVALID",
      `invalid config: listenPort (${config.listenHost}:${config.listenPort}): the SecAgg server cannot listen there: ${e instanceof Error ? e.message : String(e)}`,
      { cause: e },
    );
  }
}
