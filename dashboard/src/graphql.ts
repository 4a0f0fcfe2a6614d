/**
 * A GraphQL client over fetch: every answer is checked with the caller's zod schema, and GraphQL errors, HTTP errors
 * and shape mismatches become one `GraphQLError` with a code.
 */
import { z } from "zod";

export type GraphQLErrorCode = "HTTP" | "GRAPHQL" | "SHAPE" | "NETWORK";

export class GraphQLError extends Error {
  readonly code: GraphQLErrorCode;
  constructor(code: GraphQLErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = "GraphQLError";
  }
}

const envelope = z.object({
  data: z.unknown().optional(),
  errors: z.array(z.object({ message: z.string() })).optional(),
});

export type Query = <S extends z.ZodType>(
  schema: S,
  query: string,
  variables?: Record<string, unknown>,
) => Promise<z.infer<S>>;

export function graphqlClient(url: string): Query {
  return async (schema, query, variables) => {
    let res: Response;
    try {
      res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query, ...(variables ? { variables } : {}) }),
      });
    } catch (e) {
      throw new GraphQLError("NETWORK", `${url} unreachable: ${(e as Error).message}`);
    }
    if (!res.ok) throw new GraphQLError("HTTP", `${url} answered HTTP ${res.status}`);
    const body = envelope.parse(await res.json());
    if (body.errors?.length)
      throw new GraphQLError("GRAPHQL", body.errors.map((e) => e.message).join("; "));
    const parsed = schema.safeParse(body.data);
    if (!parsed.success)
      throw new GraphQLError("SHAPE", `unexpected answer: ${z.prettifyError(parsed.error)}`);
    return parsed.data;
  };
}

// ---------------------------------------------------------------- scalars as the Graph's API serialises them

/** BigInt: a decimal string. */
export const big = z
  .string()
  .regex(/^-?\d+$/)
  .transform((s) => BigInt(s));
export const bigOpt = big.nullable();
/** Bytes: 0x-hex. */
export const bytes = z.string().regex(/^0x[0-9a-fA-F]*$/);
export const ref = z.object({ id: z.string() });
export const meta = z.object({
  _meta: z.object({ block: z.object({ number: z.number().int() }) }),
});
