/**
 * MIME → `{ subject, body }` for one raw RFC 822 message, with mailparser's `simpleParser`.
 * The body is the text/plain part; when a message has none, its HTML part is reduced to text by
 * {@link htmlToText}. Attachments are ignored.
 */

export interface ParsedEmail {
  subject: string;
  body: string;
}

export async function parseEmail(raw: string): Promise<ParsedEmail> {
  // loaded on first use: ≈ 0.4 s of CPU that every process importing the sdk's ML module paid at start-up
  const { simpleParser } = await import("mailparser");
  const mail = await simpleParser(raw, {
    skipHtmlToText: true,
    skipTextToHtml: true,
    skipTextLinks: true,
    skipImageLinks: true,
  });
  const subject = mail.subject ?? "";
  let body = mail.text ?? "";
  if (body.trim() === "" && typeof mail.html === "string") body = htmlToText(mail.html);
  return { subject, body };
}

const NAMED_ENTITIES: Readonly<Record<string, string>> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: " ",
};

/**
 * Deterministic, dependency-free HTML → text: drops `<script>`, `<style>` and comments, turns
 * block-level tags into line breaks, removes every other tag and decodes the common named and all
 * numeric character references.
 */
export function htmlToText(html: string): string {
  return html
    .replace(/<!--[\s\S]*?-->/g, " ")
    .replace(/<(script|style|head)\b[\s\S]*?<\/\1\s*>/gi, " ")
    .replace(/<(br|p|div|tr|li|h[1-6])\b[^>]*>/gi, "\n")
    .replace(/<[^>]*>/g, " ")
    .replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole: string, ref: string) => {
      if (ref.startsWith("#")) {
        const code =
          ref[1] === "x" || ref[1] === "X"
            ? parseInt(ref.slice(2), 16)
            : parseInt(ref.slice(1), 10);
        return Number.isInteger(code) && code > 0 && code <= 0x10ffff
          ? String.fromCodePoint(code)
          : " ";
      }
      return NAMED_ENTITIES[ref.toLowerCase()] ?? whole;
    })
    .replace(/[ \t\r\f\v]+/g, " ")
    .replace(/ *\n[\s]*/g, "\n")
    .trim();
}
