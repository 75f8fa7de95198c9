/**
 * Redaction of secrets and PII from sampled traffic, applied before anything is persisted
 * (PRODUCT.md §8). Everything is compiled once in `createRedactor`; `redactValue` is a
 * copy-on-write deep walk that returns the input reference when nothing matched.
 *
 * Design choices worth knowing:
 * - All detectors run against the *original* string and their spans are merged, so a value
 *   matched by two rules (a known key that also has the `sk-…` shape) is replaced and counted
 *   once, and one rule's replacement token can never be re-matched by another.
 * - Strings that are JSON documents (tool-call `arguments`, JSON-mode content) are redacted
 *   token by token: every string literal (keys included) is decoded, redacted recursively and
 *   re-encoded, so escapes (`\u0040`) cannot hide a secret and the output stays valid JSON.
 * - Secrets split over adjacent text parts of a multi-part message are found by scanning the
 *   concatenated text, which is what the model reads.
 */

export interface RedactionPattern {
  /** Appears in the replacement token: `[REDACTED:<name>]`. */
  name: string;
  /** JavaScript regular expression source, e.g. `\\bEMP-\\d{6}\\b`. */
  regex: string;
  /** Extra RegExp flags (`i`, `u`, …); `g` is always added. */
  flags?: string;
}

export interface RedactorOptions {
  /** Exact values that must never be persisted: provider API keys, client keys, admin tokens. */
  secrets?: readonly string[];
  /** Configured PII patterns, applied after the built-in ones. */
  patterns?: readonly RedactionPattern[];
}

export interface Redacted<T> {
  value: T;
  /** Number of replacements made. */
  count: number;
}

export interface Redactor {
  /** Deep-redacts any JSON value; never mutates the input. */
  redactValue<T>(value: T): Redacted<T>;
  redactString(text: string): Redacted<string>;
}

/** Known secrets shorter than this are ignored: redacting them would shred ordinary words. */
export const MIN_SECRET_LENGTH = 8;

export function redactionToken(name: string): string {
  return `[REDACTED:${name}]`;
}

export function createRedactor(opts: RedactorOptions = {}): Redactor {
  return new DetectorRedactor(detectorsFor(opts), true);
}

/**
 * The same redactor with every shortcut off: each detector's regex runs on every string. Only for
 * tests, which check that the shortcuts never change a result.
 */
export function createUnfilteredRedactor(opts: RedactorOptions = {}): Redactor {
  return new DetectorRedactor(detectorsFor(opts), false);
}

function detectorsFor(opts: RedactorOptions): Detector[] {
  return [...secretDetectors(opts.secrets ?? []), ...BUILT_IN_DETECTORS, ...(opts.patterns ?? []).map(customDetector)].map(sameShape);
}

/**
 * Every detector with every field, in one order: the detectors are read in one loop per string, and
 * objects of different shapes made each read there a megamorphic lookup (~3 % of redaction's time).
 */
function sameShape(d: Detector): Detector {
  return { name: d.name, regex: d.regex, group: d.group, accept: d.accept, mayMatch: d.mayMatch, widen: d.widen, starts: d.starts };
}

interface Detector {
  name: string;
  /** Always global; has the `d` flag when `group` is set. */
  regex: RegExp;
  /** Redact only this capture group, keeping context such as `Bearer ` or `api_key=` readable. */
  group?: number;
  /** Second-stage check for shapes a regex cannot express (Luhn, digit counts). */
  accept?: (match: string) => boolean;
  /**
   * Cheap necessary condition, checked before the regex: most strings in a request (short
   * JSON values, prose without digits) then skip most detectors. Built from native string
   * searches (`includes`, simple regexes without look-arounds or `\p{…}`), which cost a fraction
   * of the detector's own regex — and of a JavaScript loop over the characters. `hasDigit`:
   * the text contains an ASCII digit.
   */
  mayMatch?: (text: string, hasDigit: boolean) => boolean;
  /** Where the span really starts, when the regex cannot find its start itself (see UNSPACED_LOCAL_BEFORE). */
  widen?: (text: string, start: number) => number;
  /**
   * Every position where a match can start, ascending (a superset is fine): the regex is then tried
   * only there, sticky, instead of at every position of the text. For a regex whose every attempt is
   * costly (look-behinds with Unicode properties) in text where starts are rare.
   */
  starts?: (text: string) => number[];
}

interface Span {
  start: number;
  end: number;
  /** Index of the detector that named the span; lower wins when spans merge. */
  rank: number;
}

interface Counter {
  n: number;
}

/** What an object key redacts to, how many replacements that is, and whether its value is a credential. */
interface KeyVerdict {
  redacted: string;
  count: number;
  sensitive: boolean;
}

/** Keys remembered per redactor (then it starts over), and the longest one remembered. */
const KEY_MEMO_ENTRIES = 4096;
const KEY_MEMO_LENGTH = 64;

const DIGIT = /\d/;
/**
 * A run of thirteen or more digits with at most one space or dash between neighbours: every card
 * match lies inside one, and starts at its start or right after one of its separators (a digit
 * before it would fail the look-behind).
 */
const DIGIT_RUN = /\d(?:[ -]?\d){12,}/g;

function cardStarts(text: string): number[] {
  const starts: number[] = [];
  DIGIT_RUN.lastIndex = 0;
  let run: RegExpExecArray | null;
  while ((run = DIGIT_RUN.exec(text)) !== null) {
    const end = run.index + run[0].length;
    starts.push(run.index);
    for (let i = run.index + 1; i < end; i++) {
      const before = text.charCodeAt(i - 1);
      if (before === 0x20 || before === 0x2d) starts.push(i);
    }
  }
  return starts;
}
/** The mandatory tail of a US-style phone number. */
const US_PHONE_TAIL = /\d{3}[ .-]\d{4}/;

/** Below this length no detector can match (`a@b.co` is the shortest). */
const MIN_CANDIDATE_LENGTH = 6;
/** JSON nested inside JSON strings is followed this deep; deeper levels get plain pattern matching. */
const MAX_JSON_DEPTH = 4;

/**
 * Names of fields whose value is a credential whatever it looks like. A name counts when it ends in
 * one (`password`, `db_password`, `adminPassword`, `x-api-key`, `aws_secret_access_key`): keys
 * carry prefixes far more often than not, and a false positive costs one redacted value.
 */
const CREDENTIAL_NAME = String.raw`(?:api[-_]?key|access[-_]?token|refresh[-_]?token|auth[-_]?token|client[-_]?secret|secret[-_]?(?:access[-_]?)?key|private[-_]?key|password|passwd|secret)`;
const SENSITIVE_KEY = new RegExp(`${CREDENTIAL_NAME}$`, 'i');
/** Necessary for CREDENTIAL_NAME to occur: one of these words. */
const CREDENTIAL_WORD = /passw(?:or)?d|secret|api[-_]?key|token|private[-_]?key/i;
/**
 * Necessary for the credential detector's `"…name": "…"`, and tested before CREDENTIAL_WORD: prose
 * with quotes has few `":`, while the word test tries five alternatives at every p, s, a and t.
 */
const KEY_THEN_COLON = /"\s*:/;
const CREDENTIAL = 'credential';

const TOKEN_ONLY = /^\[REDACTED:[^\]]+\]$/;
/** Base64 payloads (images, audio) are binary: scanning megabytes of them only finds noise. */
const DATA_URL = /^data:[^,;]{0,100}(?:;[^,;]{0,100})*;base64,/;
/** String literals (with an optional trailing `:` marking a key) and number literals of a valid JSON text. */
const JSON_TOKEN = /"(?:[^"\\]|\\.)*"(\s*:)?|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

/**
 * Scripts written without spaces between words: letting them into the local part of an
 * e-mail address would swallow the surrounding sentence (`请联系john@example.com`).
 */
const UNSPACED_SCRIPT = String.raw`[\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\p{sc=Hangul}\p{sc=Thai}]`;
const NOT_UNSPACED_SCRIPT = String.raw`(?!${UNSPACED_SCRIPT})`;
const EMAIL_LOCAL_CHAR = String.raw`${NOT_UNSPACED_SCRIPT}[\p{L}\p{M}\p{N}._%+\-]`;
/**
 * The look-behind lets a match start only where a run of local-part characters starts:
 * without it every position inside a long unbroken run (base64, hex dumps) is retried, which
 * is quadratic in the run's length.
 */
const EMAIL_LOCAL = String.raw`(?<!${EMAIL_LOCAL_CHAR})(?:${EMAIL_LOCAL_CHAR})+`;
/**
 * A local part written in one of those scripts (`田中@example.com`, `张三@例子.中国`) has no start of
 * its own either: it takes at most eight such characters (with their marks) right before the `@`,
 * so a short name is redacted whole and up to a few characters of the sentence before it go with
 * it (`連絡先は田中@…` loses `連絡先は` too) — the safe side, as for the TLD below; a longer one
 * keeps its first characters. Only a run that touches the `@`: in `请联系john@example.com` the
 * Chinese is the sentence, not the address, and stays. The detector's regex starts at the `@` (a
 * literal the regex engine finds fast) and the span is widened back to the local part in code: as
 * one regex, trying eight characters at every position of a long text in these scripts made
 * redacting it five times slower.
 */
const UNSPACED_LOCAL_BEFORE = new RegExp(String.raw`(?:${UNSPACED_SCRIPT}\p{M}*){1,8}$`, 'u');
/** Eight characters with their marks, in UTF-16 code units, with room to spare. */
const UNSPACED_LOCAL_MAX_UNITS = 64;

function unspacedLocalStart(text: string, at: number): number {
  const before = text.slice(Math.max(0, at - UNSPACED_LOCAL_MAX_UNITS), at);
  const local = UNSPACED_LOCAL_BEFORE.exec(before);
  return local === null ? at : at - local[0].length;
}
/**
 * After the `@` there is no sentence to swallow: a domain label may be written in any script
 * (`info@例子.中国`, `kim@도메인.한국`). Only a top-level domain in a script without spaces has no
 * end of its own (`…@例子.中国谢谢`): it takes at most five such characters (the longest such TLDs
 * are five), so a few characters of the sentence after it may be redacted with it — the safe side.
 */
const EMAIL_LABEL = String.raw`[\p{L}\p{M}\p{N}\-]+`;
const EMAIL_TLD = String.raw`(?:(?:${NOT_UNSPACED_SCRIPT}\p{L}){2,}|${UNSPACED_SCRIPT}{2,5})`;
const EMAIL_DOMAIN = String.raw`(?:${EMAIL_LABEL}\.)+${EMAIL_TLD}`;

const BUILT_IN_DETECTORS: readonly Detector[] = [
  {
    name: CREDENTIAL,
    // `"db_password": "…"` in text that is not valid JSON — tool-call arguments cut off by
    // max_tokens, JSON quoted in prose. (Valid JSON is read token by token instead.) The value runs
    // to its closing quote, or to the end of the text when that was cut off.
    regex: new RegExp(String.raw`"[^"\
]{0,64}?${CREDENTIAL_NAME}"\s*:\s*"((?:[^"\
]|\.)+)`, 'dgi'),
    group: 1,
    mayMatch: (text) => text.includes('"') && KEY_THEN_COLON.test(text) && CREDENTIAL_WORD.test(text),
  },
  {
    name: 'bearer',
    // Requiring a digit keeps prose such as "the bearer instrument" intact.
    regex: /\bBearer\s+((?=[A-Za-z0-9._~+/=-]*\d)[A-Za-z0-9._~+/=-]{8,})/dgi,
    group: 1,
    mayMatch: (text, hasDigit) => hasDigit && /bearer/i.test(text),
  },
  {
    name: 'api_key',
    regex: /(?<![A-Za-z0-9_-])sk-(?:ant-|proj-|svcacct-|admin-)?[A-Za-z0-9_-]{16,}/g,
    mayMatch: (text) => text.includes('sk-'),
  },
  {
    name: 'api_key',
    regex: /(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Z0-9])/g,
    // No digit required: AKIAABCDEFGHIJKLMNOP is as much a key ID as one with digits.
    mayMatch: (text) => /A[KSBC][IC]A/.test(text),
  },
  {
    name: 'api_key',
    regex: /(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})(?![A-Za-z0-9_])/g,
    mayMatch: (text) => text.includes('_') && /gh[pousr]_|github_pat_/.test(text),
  },
  {
    name: 'api_key',
    // The value stops at quotes, separators and brackets (`api_key=…&x=1`, `{api_key: …}`).
    regex: /\b(?:x[_-]?)?api[_-]?key["']?\s*[:=]\s*["']?((?=[^\s"'`,;&<>(){}[\]]*\d)[^\s"'`,;&<>(){}[\]]{6,})/dgi,
    group: 1,
    mayMatch: (text, hasDigit) => hasDigit && /api[_-]?key/i.test(text),
  },
  {
    name: 'card',
    // Issuer prefixes start with 2–6, which also keeps millisecond timestamps (1…) out. Letters of
    // scripts written without spaces may touch the number (`カード4111…です`).
    regex: new RegExp(String.raw`(?<!\p{N}|${NOT_UNSPACED_SCRIPT}\p{L})[2-6](?:[ -]?\d){12,18}(?!\p{N}|${NOT_UNSPACED_SCRIPT}\p{L})`, 'gu'),
    accept: isCardNumber,
    mayMatch: (text, hasDigit) => hasDigit,
    starts: cardStarts,
  },
  {
    name: 'email',
    regex: new RegExp(`${EMAIL_LOCAL}@${EMAIL_DOMAIN}`, 'gu'),
    mayMatch: (text) => text.includes('@'),
  },
  {
    name: 'email',
    regex: new RegExp(String.raw`@(?<=${UNSPACED_SCRIPT}\p{M}*@)${EMAIL_DOMAIN}`, 'gu'),
    widen: unspacedLocalStart,
    mayMatch: (text) => text.includes('@'),
  },
  {
    name: 'phone',
    // International: a leading + and 8–15 digits (E.164) in groups.
    regex: /(?<![\p{L}\p{N}+])\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,6}(?![\p{L}\p{N}])/gu,
    accept: (m) => digitCount(m) >= 8 && digitCount(m) <= 15,
    mayMatch: (text, hasDigit) => hasDigit && text.includes('+'),
  },
  {
    name: 'phone',
    // US style needs its separators: bare 10-digit runs are far more often IDs than phones,
    // and the look-arounds keep dates, versions and dotted IDs out.
    regex: /(?<![\p{L}\p{N}+.-])(?:\+?1[ .-]?)?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\p{L}\p{N}]|[.-]\d)/gu,
    mayMatch: (text, hasDigit) => hasDigit && US_PHONE_TAIL.test(text),
  },
];

/** Up to this many known secrets are looked for one by one before their regex runs. */
const FEW_SECRETS = 8;

function secretDetectors(secrets: readonly string[]): Detector[] {
  const usable = [...new Set(secrets)].filter((s) => s.length >= MIN_SECRET_LENGTH);
  if (usable.length === 0) return [];
  // Longest first so a key that contains another key is replaced whole.
  usable.sort((a, b) => b.length - a.length);
  const shortest = (usable[usable.length - 1] as string).length;
  // A native substring search per secret is several times cheaper than the alternation, for a few
  // of them; with many keys configured the one regex pass wins.
  const few = usable.length <= FEW_SECRETS;
  return [
    {
      name: 'secret',
      regex: new RegExp(usable.map(escapeRegExp).join('|'), 'g'),
      mayMatch: (text) => text.length >= shortest && (!few || usable.some((secret) => text.includes(secret))),
    },
  ];
}

function customDetector(p: RedactionPattern): Detector {
  if (!/^[A-Za-z0-9_.-]+$/.test(p.name)) {
    throw new Error(`redaction pattern name ${JSON.stringify(p.name)}: use letters, digits, "_", "-" or "."`);
  }
  const flags = new Set((p.flags ?? '') + 'g');
  try {
    return { name: p.name, regex: new RegExp(p.regex, [...flags].join('')) };
  } catch (err) {
    throw new Error(`redaction pattern ${p.name}: invalid regex: ${(err as Error).message}`);
  }
}

class DetectorRedactor implements Redactor {
  readonly #detectors: readonly Detector[];
  readonly #tokens: readonly string[];
  readonly #shortcuts: boolean;
  /** Per detector with `starts`: its regex, sticky. */
  readonly #sticky: readonly (RegExp | undefined)[];
  /**
   * What object keys redact to: the same few (`messages`, `role`, `content`, `finish_reason`…) come
   * in every request, and a Map lookup is a fraction of running the detectors on them again.
   */
  readonly #keys = new Map<string, KeyVerdict>();

  constructor(detectors: readonly Detector[], shortcuts: boolean) {
    this.#detectors = detectors;
    this.#tokens = detectors.map((d) => redactionToken(d.name));
    this.#shortcuts = shortcuts;
    this.#sticky = detectors.map((d) => (d.starts ? new RegExp(d.regex.source, `${d.regex.flags}y`) : undefined));
  }

  redactValue<T>(value: T): Redacted<T> {
    const counter: Counter = { n: 0 };
    // The walk maps strings to strings and containers to containers, so the shape of T holds.
    const redacted = this.#walk(value, counter) as T;
    return { value: redacted, count: counter.n };
  }

  redactString(text: string): Redacted<string> {
    const counter: Counter = { n: 0 };
    return { value: this.#text(text, 0, counter), count: counter.n };
  }

  #walk(value: unknown, counter: Counter): unknown {
    if (typeof value === 'string') return this.#text(value, 0, counter);
    if (Array.isArray(value)) return this.#array(value, counter);
    if (isPlainObject(value)) return this.#object(value, counter);
    return value;
  }

  #array(items: readonly unknown[], counter: Counter): unknown[] {
    let out: unknown[] | undefined;
    for (let i = 0; i < items.length; i++) {
      const item = items[i]; // a hole reads as undefined, which the walk returns unchanged
      const next = this.#walk(item, counter);
      if (next !== item) (out ??= items.slice())[i] = next;
    }
    const parts = out ?? (items as unknown[]);
    return this.#acrossTextParts(parts, counter);
  }

  /** Copies only once something changed: most objects in a request have nothing to redact. */
  #object(obj: Record<string, unknown>, counter: Counter): Record<string, unknown> {
    let out: Record<string, unknown> | undefined;
    const keys = Object.keys(obj);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      const value = obj[key];
      const verdict = this.#key(key);
      const newKey = verdict.redacted;
      counter.n += verdict.count;
      // A PIN or numeric password is as secret as a string one (it becomes the string token, as it
      // does in JSON text).
      const newValue =
        (typeof value === 'string' || typeof value === 'number') && verdict.sensitive
          ? this.#credential(String(value), counter)
          : this.#walk(value, counter);
      if (out === undefined && (newKey !== key || newValue !== value)) {
        out = {};
        for (let j = 0; j < i; j++) out[keys[j] as string] = obj[keys[j] as string];
      }
      if (out !== undefined) out[newKey] = newValue;
    }
    return out ?? obj;
  }

  #key(key: string): KeyVerdict {
    const known = this.#shortcuts ? this.#keys.get(key) : undefined;
    if (known !== undefined) return known;
    const counter: Counter = { n: 0 };
    const verdict: KeyVerdict = { redacted: this.#text(key, 0, counter), count: counter.n, sensitive: SENSITIVE_KEY.test(key) };
    // Long keys are more likely data (ids, text used as a key) than field names: not kept.
    if (this.#shortcuts && key.length <= KEY_MEMO_LENGTH) {
      if (this.#keys.size >= KEY_MEMO_ENTRIES) this.#keys.clear();
      this.#keys.set(key, verdict);
    }
    return verdict;
  }

  #credential(value: string, counter: Counter): string {
    if (value === '' || TOKEN_ONLY.test(value)) return value;
    counter.n++;
    return redactionToken(CREDENTIAL);
  }

  #text(text: string, depth: number, counter: Counter): string {
    if (text.length < MIN_CANDIDATE_LENGTH) return text;
    if (text.charCodeAt(0) === 0x64 /* d */ && DATA_URL.test(text)) return text;
    if (depth < MAX_JSON_DEPTH && looksLikeJson(text)) {
      const fromJson = this.#jsonText(text, depth, counter);
      if (fromJson !== undefined) return fromJson;
    }
    const spans = this.#spans(text);
    if (spans.length === 0) return text;
    counter.n += spans.length;
    return this.#apply(text, spans);
  }

  /** Returns undefined when the text is not valid JSON, so the caller treats it as prose. */
  #jsonText(text: string, depth: number, counter: Counter): string | undefined {
    try {
      JSON.parse(text);
    } catch {
      return undefined;
    }
    let credentialNext = false;
    return text.replace(JSON_TOKEN, (token: string, colon: string | undefined) => {
      if (!token.startsWith('"')) {
        const isCredential = credentialNext;
        credentialNext = false;
        if (isCredential) return JSON.stringify(this.#credential(token, counter));
        // A card number typed as a JSON number becomes a string token: precision is not the point.
        const spans = this.#spans(token);
        if (spans.length === 0) return token;
        counter.n += spans.length;
        return JSON.stringify(this.#apply(token, spans));
      }
      const literal = colon === undefined ? token : token.slice(0, token.length - colon.length);
      const decoded = JSON.parse(literal) as string;
      let next: string;
      if (colon !== undefined) {
        credentialNext = SENSITIVE_KEY.test(decoded);
        next = this.#text(decoded, depth + 1, counter);
      } else {
        next = credentialNext ? this.#credential(decoded, counter) : this.#text(decoded, depth + 1, counter);
        credentialNext = false;
      }
      return next === decoded ? token : JSON.stringify(next) + (colon ?? '');
    });
  }

  /**
   * Content arrays (`[{type:'text',text}, {type:'image_url',…}, …]`) are read by the model as
   * one text, so a key split over two parts is still a key. Each part was already redacted on
   * its own; here only spans that cross a part boundary are handled.
   */
  #acrossTextParts(parts: unknown[], counter: Counter): unknown[] {
    let textParts = 0;
    for (let i = 0; i < parts.length && textParts < 2; i++) if (isTextPart(parts[i])) textParts++;
    if (textParts < 2) return parts;
    const positions: number[] = [];
    const texts: string[] = [];
    parts.forEach((part, i) => {
      if (isTextPart(part)) {
        positions.push(i);
        texts.push(part.text);
      }
    });
    if (texts.length < 2) return parts;
    const joined = texts.join('');
    const ends: number[] = [];
    let offset = 0;
    for (const t of texts) ends.push((offset += t.length));
    const crossing = this.#spans(joined).filter((s) => ends.some((e) => s.start < e && s.end > e));
    if (crossing.length === 0) return parts;
    counter.n += crossing.length;

    const out = parts.slice();
    let start = 0;
    texts.forEach((text, k) => {
      const end = start + text.length;
      let piece = '';
      let cursor = start;
      for (const span of crossing) {
        if (span.end <= start || span.start >= end) continue;
        if (span.start >= cursor) piece += joined.slice(cursor, span.start) + this.#token(span);
        cursor = Math.min(Math.max(cursor, span.end), end);
      }
      piece += joined.slice(cursor, end);
      const position = positions[k] as number;
      if (piece !== text) out[position] = { ...(parts[position] as TextPart), text: piece };
      start = end;
    });
    return out;
  }

  /**
   * All detector matches on `text`, sorted and with overlapping spans merged into one. Text with
   * characters that hide a value from the patterns but not from a reader (full-width forms,
   * zero-width and soft-hyphen characters) is matched in its folded form and the spans mapped back,
   * so `４１１１ １１１１…` is a card and `jo\u200bhn@…` is one address, not `jo` plus an address.
   */
  #spans(text: string): Span[] {
    // All of them are outside ASCII; counting UTF-8 bytes is several times cheaper than the regex.
    if (Buffer.byteLength(text) === text.length || !DISGUISING.test(text)) return this.#plainSpans(text);
    const { folded, origin } = fold(text);
    return this.#plainSpans(folded).map((s) => ({ start: origin[s.start] as number, end: (origin[s.end - 1] as number) + 1, rank: s.rank }));
  }

  #plainSpans(text: string): Span[] {
    const found: Span[] = [];
    const hasDigit = DIGIT.test(text);
    const detectors = this.#detectors;
    for (let rank = 0; rank < detectors.length; rank++) {
      const d = detectors[rank] as Detector;
      if (this.#shortcuts && d.mayMatch !== undefined && !d.mayMatch(text, hasDigit)) continue;
      const sticky = this.#sticky[rank];
      if (this.#shortcuts && d.starts !== undefined && sticky !== undefined) {
        // The same matches as the scan below: tried in order, each from where the last one ended.
        let from = 0;
        for (const at of d.starts(text)) {
          if (at < from) continue;
          sticky.lastIndex = at;
          const m = sticky.exec(text);
          if (m === null) continue;
          from = m[0].length === 0 ? at + 1 : sticky.lastIndex;
          addSpan(found, d, rank, text, m);
        }
        continue;
      }
      // exec on the shared regex rather than matchAll, which clones the regex on every call; the
      // loop below is what matchAll does (including its step past an empty match).
      const regex = d.regex;
      regex.lastIndex = 0;
      let m: RegExpExecArray | null;
      while ((m = regex.exec(text)) !== null) {
        if (m[0].length === 0) regex.lastIndex = advanceIndex(text, regex.lastIndex, regex.unicode || regex.flags.includes('v'));
        addSpan(found, d, rank, text, m);
      }
    }
    if (found.length < 2) return found;
    found.sort((a, b) => a.start - b.start || a.rank - b.rank);
    const merged: Span[] = [];
    for (const span of found) {
      const last = merged[merged.length - 1];
      if (last !== undefined && span.start < last.end) {
        last.end = Math.max(last.end, span.end);
        last.rank = Math.min(last.rank, span.rank);
      } else {
        merged.push({ ...span });
      }
    }
    return merged;
  }

  #apply(text: string, spans: readonly Span[]): string {
    let out = '';
    let cursor = 0;
    for (const span of spans) {
      out += text.slice(cursor, span.start) + this.#token(span);
      cursor = span.end;
    }
    return out + text.slice(cursor);
  }

  #token(span: Span): string {
    return this.#tokens[span.rank] as string;
  }
}

/** A detector's match as a span, unless its second-stage check refuses it. */
function addSpan(found: Span[], d: Detector, rank: number, text: string, m: RegExpExecArray): void {
  const range = d.group === undefined ? [m.index, m.index + m[0].length] : m.indices?.[d.group];
  if (range === undefined) return;
  let [start, end] = range as [number, number];
  if (d.widen !== undefined) start = d.widen(text, start);
  if (end <= start) return;
  if (d.accept !== undefined && !d.accept(text.slice(start, end))) return;
  found.push({ start, end, rank });
}

interface TextPart {
  type: string;
  text: string;
}

function isTextPart(value: unknown): value is TextPart {
  if (!isPlainObject(value)) return false;
  const { type, text } = value;
  return typeof text === 'string' && (type === 'text' || type === 'input_text' || type === 'output_text');
}

/** Zero-width and soft-hyphen characters, the ideographic space and the full-width ASCII forms. */
const DISGUISING = /[\u00ad\u200b-\u200d\u2060\ufeff\u3000\uff01-\uff5e]/;

/**
 * The text as the patterns should see it: invisible characters removed, full-width forms as their
 * ASCII originals. `origin[i]` is the index in `text` of `folded[i]`; every kept character is one
 * UTF-16 unit in both, so a span maps back one to one.
 */
function fold(text: string): { folded: string; origin: number[] } {
  let folded = '';
  const origin: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0xad || (c >= 0x200b && c <= 0x200d) || c === 0x2060 || c === 0xfeff) continue;
    folded += c === 0x3000 ? ' ' : c >= 0xff01 && c <= 0xff5e ? String.fromCharCode(c - 0xfee0) : text[i];
    origin.push(i);
  }
  return { folded, origin };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Only JSON's own whitespace is skipped, not all that `trim` would: text with other space around
 * the brackets is not JSON (JSON.parse would refuse it), so it is prose either way — and this way
 * no trimmed copy is made of every string.
 */
function looksLikeJson(text: string): boolean {
  let i = 0;
  let j = text.length - 1;
  while (i <= j && isJsonSpace(text.charCodeAt(i))) i++;
  while (j > i && isJsonSpace(text.charCodeAt(j))) j--;
  if (i >= j) return false;
  const first = text.charCodeAt(i);
  const last = text.charCodeAt(j);
  return (first === 0x7b && last === 0x7d) || (first === 0x5b && last === 0x5d);
}

function isJsonSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** Where matchAll resumes after an empty match: one code point on, for unicode regexes. */
function advanceIndex(text: string, index: number, unicode: boolean): number {
  if (!unicode || index + 1 >= text.length) return index + 1;
  const c = text.charCodeAt(index);
  if (c < 0xd800 || c > 0xdbff) return index + 1;
  const next = text.charCodeAt(index + 1);
  return next >= 0xdc00 && next <= 0xdfff ? index + 2 : index + 1;
}

function digitCount(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) n++;
  }
  return n;
}

/**
 * 13–19 digits, Luhn-valid, and if separated then in a real card layout (4-4-4-4…, Amex
 * 4-6-5) with one kind of separator, so runs of dates such as `2024-01-15 2024-01-16` are not cards.
 */
export function isCardNumber(candidate: string): boolean {
  const digits = candidate.replace(/[ -]/g, '');
  if (!/^\d{13,19}$/.test(digits)) return false;
  if (digits.length !== candidate.length) {
    const separators = new Set(candidate.replace(/\d/g, ''));
    if (separators.size !== 1) return false;
    const groups = candidate.split(/[ -]/).map((g) => g.length);
    const fours = groups.slice(0, -1).every((g) => g === 4) && (groups[groups.length - 1] ?? 0) >= 1;
    const amex = groups.length === 3 && groups[0] === 4 && groups[1] === 6 && (groups[2] === 5 || groups[2] === 4);
    if (!fours && !amex) return false;
  }
  return luhnValid(digits);
}

export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}
