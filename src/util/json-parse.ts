/**
 * JSON bodies as Python's `json.loads` reads them, at JSON.parse speed for ordinary bodies:
 *
 * - integers beyond 2^53 stay exact (as BigInt), so int64 inputs are not rounded;
 * - `NaN`, `Infinity` and `-Infinity` are accepted, as Python clients send them;
 * - a syntax error names its position like Python does ("Expecting value: line 1 column 22
 *   (char 21)") and never quotes the body, which may hold private data.
 *
 * JSON.parse handles the body unless it holds a long integer literal or fails; only then does the
 * slower parser below run.
 */

export class JsonSyntaxError extends Error {}

// An integer token of 16+ digits (not part of a decimal or exponent): may not fit a double exactly.
// A consumed class rather than a lookbehind: twice as fast on number-heavy bodies.
const LONG_INT_RE = /(?:^|[^\d.eE+-])-?\d{16,}(?![\d.eE])/;

/**
 * @param exactIntegers look for integer literals a double cannot hold (only worth its cost when
 *   the model takes int64 or arbitrary JSON)
 */
export function parseJsonText(text: string, exactIntegers = true): unknown {
  if (!exactIntegers || !LONG_INT_RE.test(text)) {
    try {
      return JSON.parse(text);
    } catch {
      // fall through: the strict parser explains the error, or accepts NaN/Infinity
    }
  }
  return new Parser(text).parseDocument();
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

const MAX_DEPTH = 1000;

class Parser {
  private i = 0;
  private depth = 0;

  constructor(private readonly s: string) {}

  private fail(msg: string, at = this.i): never {
    const before = this.s.slice(0, at);
    const line = before.split('\n').length;
    const col = at - (before.lastIndexOf('\n') + 1) + 1;
    throw new JsonSyntaxError(`${msg}: line ${line} column ${col} (char ${at})`);
  }

  private ws(): void {
    while (this.i < this.s.length && WS.has(this.s.charCodeAt(this.i))) this.i++;
  }

  parseDocument(): unknown {
    this.ws();
    const v = this.value();
    this.ws();
    if (this.i < this.s.length) this.fail('Extra data');
    return v;
  }

  private value(): unknown {
    const s = this.s;
    const c = s[this.i];
    switch (c) {
      case '{':
        return this.object();
      case '[':
        return this.array();
      case '"':
        return this.string();
      case 't':
        return this.word('true', true);
      case 'f':
        return this.word('false', false);
      case 'n':
        return this.word('null', null);
      case 'N':
        return this.word('NaN', Number.NaN);
      case 'I':
        return this.word('Infinity', Number.POSITIVE_INFINITY);
      default:
        if (c === '-' && s.startsWith('-Infinity', this.i)) return this.word('-Infinity', Number.NEGATIVE_INFINITY);
        if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
        return this.fail('Expecting value');
    }
  }

  private word<T>(w: string, v: T): T {
    if (!this.s.startsWith(w, this.i)) this.fail('Expecting value');
    this.i += w.length;
    return v;
  }

  private number(): number | bigint {
    const m = /^-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.s.slice(this.i, this.i + 400));
    if (m === null) return this.fail('Expecting value');
    this.i += m[0].length;
    if (m[1] === undefined && m[2] === undefined) {
      const n = Number(m[0]);
      return Number.isSafeInteger(n) ? n : BigInt(m[0]);
    }
    return Number(m[0]);
  }

  private string(): string {
    const start = this.i;
    this.i++;
    let out = '';
    let run = this.i;
    const s = this.s;
    for (;;) {
      if (this.i >= s.length) this.fail('Unterminated string starting at', start);
      const c = s.charCodeAt(this.i);
      if (c === 0x22) {
        out += s.slice(run, this.i);
        this.i++;
        return out;
      }
      if (c < 0x20) this.fail('Invalid control character at');
      if (c === 0x5c) {
        out += s.slice(run, this.i);
        const e = s[this.i + 1];
        const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (e !== undefined && e in simple) {
          out += simple[e];
          this.i += 2;
        } else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(s.slice(this.i + 2, this.i + 6))) {
          out += String.fromCharCode(Number.parseInt(s.slice(this.i + 2, this.i + 6), 16));
          this.i += 6;
        } else {
          this.fail('Invalid \\escape');
        }
        run = this.i;
        continue;
      }
      this.i++;
    }
  }

  private enter(): void {
    if (++this.depth > MAX_DEPTH) this.fail(`Nesting deeper than ${MAX_DEPTH} levels`);
  }

  private array(): unknown[] {
    this.enter();
    this.i++;
    const out: unknown[] = [];
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      this.depth--;
      return out;
    }
    for (;;) {
      this.ws();
      out.push(this.value());
      this.ws();
      const c = this.s[this.i];
      if (c === ']') {
        this.i++;
        this.depth--;
        return out;
      }
      if (c !== ',') this.fail("Expecting ',' delimiter");
      this.i++;
    }
  }

  private object(): Record<string, unknown> {
    this.enter();
    this.i++;
    const out: Record<string, unknown> = {};
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      this.depth--;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail('Expecting property name enclosed in double quotes');
      const key = this.string();
      this.ws();
      if (this.s[this.i] !== ':') this.fail("Expecting ':' delimiter");
      this.i++;
      this.ws();
      const v = this.value();
      // Own data property even for "__proto__", as JSON.parse does.
      Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      this.ws();
      const c = this.s[this.i];
      if (c === '}') {
        this.i++;
        this.depth--;
        return out;
      }
      if (c !== ',') this.fail("Expecting ',' delimiter");
      this.i++;
    }
  }
}
