/**
 * Field notes as HTML that is safe to put in the page: Markdown rendered by
 * marked, with every piece of raw HTML shown as text and every link or image
 * whose URL is not http(s), mailto, a fragment or a relative path dropped to
 * its text. Images load only from a relative path or a `data:image/` URL: a
 * remote image is shown as a link to it, so the page fetches nothing from
 * elsewhere. The page's Content-Security-Policy (no inline scripts, images
 * from `'self'` and `data:` only) is a second wall.
 *
 * @module
 */
import { Marked, type Tokens } from "./_deps.ts";

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** `text` with the five HTML-special characters escaped. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const SCHEME = /^([a-z][a-z0-9+.-]*):/i;
const SAFE_SCHEMES = new Set(["http", "https", "mailto"]);

/**
 * Whether `href` may become a link or image source: http(s), mailto, or no
 * scheme at all (relative paths, fragments). Control characters and
 * whitespace, which browsers strip before reading a scheme, are stripped
 * here too, and character references are decoded first.
 */
export function isSafeUrl(href: string): boolean {
  const decoded = href
    .replace(
      /&#x([0-9a-f]+);?/gi,
      (_, h) => String.fromCodePoint(parseInt(h, 16)),
    )
    .replace(/&#(\d+);?/g, (_, d) => String.fromCodePoint(Number(d)))
    .replace(/&colon;?/gi, ":")
    .replace(/&tab;?|&newline;?/gi, "");
  // deno-lint-ignore no-control-regex
  const cleaned = decoded.replace(/[\u0000-\u0020\u007f-\u00a0]/g, "");
  const m = SCHEME.exec(cleaned);
  if (!m) return true; // relative, a fragment, or protocol-relative http(s)
  return SAFE_SCHEMES.has(m[1].toLowerCase());
}

/**
 * Whether image source `href` stays on this machine: a relative path
 * (served by the dashboard itself) or a `data:image/…` URL. Anything with a
 * scheme or a host (`//host`, and `\\host` or `/\host`, which browsers
 * read the same way) is remote.
 */
export function isLocalImage(href: string): boolean {
  // deno-lint-ignore no-control-regex
  const cleaned = href.replace(/[\u0000-\u0020\u007f-\u00a0]/g, "");
  if (/^data:image\/[a-z0-9.+-]+[;,]/i.test(cleaned)) return true;
  if (/&/.test(cleaned)) return false; // character references: not worth decoding
  return !SCHEME.test(cleaned) && !/^[\\/]{2}/.test(cleaned);
}

const marked = new Marked({
  gfm: true,
  async: false,
  renderer: {
    html(token: Tokens.HTML | Tokens.Tag): string {
      return escapeHtml(token.text);
    },
    link(token: Tokens.Link): string | false {
      if (isSafeUrl(token.href)) return false; // marked's own rendering
      return this.parser.parseInline(token.tokens);
    },
    image(token: Tokens.Image): string | false {
      // Only local images load (the page works offline and leaks nothing);
      // a remote one becomes a link to it, a dangerous one its text.
      if (isLocalImage(token.href)) return false;
      if (!isSafeUrl(token.href)) return escapeHtml(token.text);
      return `<a href="${escapeHtml(token.href)}" rel="noopener noreferrer">${
        escapeHtml(token.text ? `image: ${token.text}` : token.href)
      }</a>`;
    },
  },
});

/**
 * Renders Markdown `text` to HTML that carries no script: raw HTML is
 * escaped, unsafe URLs are dropped.
 *
 * @example
 * ```ts
 * import { renderMarkdown } from "./_markdown.ts";
 * const html = renderMarkdown("# Notes\n<script>alert(1)</script>");
 * console.assert(html.includes("<h1>Notes</h1>"));
 * console.assert(!html.includes("<script>"));
 * ```
 */
export function renderMarkdown(text: string): string {
  return marked.parse(text) as string;
}
