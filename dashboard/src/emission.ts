/**
 * The growth pool's emission schedule, as contracts/GrowthPool.sol computes it: a list of eras, each
 * `E(e) = e0 >> floor((e - start) / halvingEpochs)` from its `start` epoch. The eras are rebuilt from the subgraph's
 * `ParameterChange` records of `GrowthPoolInitialized` (era 0: `e0`, `config.2` = H) and `HalvingEpochsUpdated`
 * (`setHalvingEpochs`: before genesis, `fromEpoch = 0`, the first era is re-derived; at an era's own start its H
 * changes; otherwise a new era starts at `fromEpoch` with the level the old schedule had there).
 */
export interface Era {
  start: bigint;
  halvingEpochs: bigint;
  e0: bigint;
}

export interface ParamEvent {
  event: string;
  values: readonly string[];
}

const value = (values: readonly string[], name: string): bigint => {
  const pair = values.find((v) => v.startsWith(`${name}=`));
  if (pair === undefined) throw new Error(`no ${name} in [${values.join(", ")}]`);
  return BigInt(pair.slice(name.length + 1));
};

/** The eras after `events` (in chain order); empty before the pool's initialisation is indexed. */
export function erasFrom(events: readonly ParamEvent[]): Era[] {
  const eras: Era[] = [];
  for (const ev of events) {
    if (ev.event === "GrowthPoolInitialized") {
      eras.length = 0;
      eras.push({
        start: 0n,
        halvingEpochs: value(ev.values, "config.2"),
        e0: value(ev.values, "e0"),
      });
    } else if (ev.event === "HalvingEpochsUpdated") {
      const last = eras.at(-1);
      if (last === undefined) continue;
      const h = value(ev.values, "newHalvingEpochs");
      const from = value(ev.values, "fromEpoch");
      const e0 = value(ev.values, "e0");
      if (from === 0n) {
        last.e0 = e0;
        last.halvingEpochs = h;
      } else if (last.start === from) last.halvingEpochs = h;
      else eras.push({ start: from, halvingEpochs: h, e0 });
    }
  }
  return eras;
}

/** `GrowthPool.emission(epoch)`. */
export function emissionAt(eras: readonly Era[], epoch: bigint): bigint {
  let i = eras.length;
  while (i > 1 && eras[i - 1]!.start > epoch) --i;
  const era = eras[i - 1];
  if (era === undefined) return 0n;
  const shift = (epoch - era.start) / era.halvingEpochs;
  return shift >= 256n ? 0n : era.e0 >> shift;
}
