/**
 * Query field names as graph-node derives them (`camel_cased_names` in graph/src/data/graphql/ext.rs): the singular
 * is the type name in camelCase, the plural is the type name pluralised by the Inflector crate's rules (applied to
 * the PascalCase name, last rule first) and then camel-cased; when both coincide the plural gets `_collection`.
 * So `Job` → `job` / `jobs`, `AuctionEpoch` → `auctionEpoch` / `auctionEpoches`, `Status` → `statuses`.
 */

/** Inflector's `to_plural` rules, in declaration order (they are tried from the last to the first). */
const RULES: readonly (readonly [RegExp, string])[] = [
  [/(\w*)s$/, "s"],
  [/(\w*([^aeiou]ese))$/, ""],
  [/(\w*(ax|test))is$/, "es"],
  [/(\w*(alias|[^aou]us|tlas|gas|ris))$/, "es"],
  [/(\w*(e[mn]u))s?$/, "s"],
  [/(\w*([^l]ias|[aeiou]las|[emjzr]as|[iu]am))$/, ""],
  [
    /(\w*(alumn|syllab|octop|vir|radi|nucle|fung|cact|stimul|termin|bacill|foc|uter|loc|strat))(?:us|i)$/,
    "i",
  ],
  [/(\w*(alumn|alg|vertebr))(?:a|ae)$/, "ae"],
  [/(\w*(seraph|cherub))(?:im)?$/, "im"],
  [/(\w*(her|at|gr))o$/, "oes"],
  [
    /(\w*(agend|addend|millenni|dat|extrem|bacteri|desiderat|strat|candelabr|errat|ov|symposi|curricul|automat|quor))(?:a|um)$/,
    "a",
  ],
  [
    /(\w*(apheli|hyperbat|periheli|asyndet|noumen|phenomen|criteri|organ|prolegomen|hedr|automat))(?:a|on)$/,
    "a",
  ],
  [/(\w*)sis$/, "ses"],
  [/(\w*(kni|wi|li))fe$/, "ves"],
  [/(\w*(ar|l|ea|eo|oa|hoo))f$/, "ves"],
  [/(\w*([^aeiouy]|qu))y$/, "ies"],
  [/(\w*([^ch][ieo][ln]))ey$/, "ies"],
  [/(\w*(x|ch|ss|sh|zz)es)$/, ""],
  [/(\w*(x|ch|ss|sh|zz))$/, "es"],
  [/(\w*(matr|cod|mur|sil|vert|ind|append))(?:ix|ex)$/, "ices"],
  [/(\w*(m|l)(?:ice|ouse))$/, "ice"],
  [/(\w*(pe)(?:rson|ople))$/, "ople"],
  [/(\w*(child))(?:ren)?$/, "ren"],
  [/(\w*eaux)$/, ""],
];

const SPECIAL: Readonly<Record<string, string>> = {
  ox: "oxen",
  man: "men",
  woman: "women",
  die: "dice",
  yes: "yeses",
  foot: "feet",
  eave: "eaves",
  goose: "geese",
  tooth: "teeth",
  quiz: "quizzes",
};

/** A few of Inflector's uncountable words (its list is long; these are the ones a schema is likely to use). */
const UNCOUNTABLE: ReadonlySet<string> = new Set([
  "equipment",
  "information",
  "money",
  "series",
  "species",
  "news",
  "data",
  "metadata",
  "sheep",
  "fish",
]);

export function toPlural(word: string): string {
  if (UNCOUNTABLE.has(word)) return word;
  const special = SPECIAL[word];
  if (special !== undefined) return special;
  for (let i = RULES.length - 1; i >= 0; i--) {
    const [rule, replace] = RULES[i] as readonly [RegExp, string];
    const m = rule.exec(word);
    if (m?.[1] !== undefined) return m[1] + replace;
  }
  return `${word}s`;
}

/** `AuctionEpoch` → `auctionEpoch`, `ERC20Token` → `erc20Token`. */
export function toCamelCase(name: string): string {
  const m = /^([A-Z]+)(?=[A-Z][a-z]|$|[0-9])/.exec(name);
  if (m?.[1] !== undefined && m[1].length > 1) return m[1].toLowerCase() + name.slice(m[1].length);
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/** The singular and plural query field names for an entity type. */
export function queryFieldNames(typeName: string): { singular: string; plural: string } {
  const singular = toCamelCase(typeName);
  let plural = toCamelCase(toPlural(typeName));
  if (plural === singular) plural = `${plural}_collection`;
  return { singular, plural };
}
