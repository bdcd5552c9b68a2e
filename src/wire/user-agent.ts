/**
 * The user agent (`subver`) of a version message, kept losslessly.
 *
 * On the wire it is up to 256 arbitrary bytes; Core does not require UTF-8.
 * Decoding it as UTF-8 with U+FFFD replacement loses bytes (and grows the
 * text: one invalid byte becomes three), so re-encoding the decoder's own
 * output could fail with ERR_USER_AGENT_TOO_LONG. Instead the text form is an
 * exact, reversible escape of the bytes:
 *
 * - every well-formed UTF-8 sequence is its character, except
 * - a backslash (0x5c) is written `\\`, and
 * - each byte that is not part of a well-formed UTF-8 sequence is written
 *   `\xNN` (two lowercase hex digits).
 *
 * So a valid UTF-8 agent without backslashes (every real node's) reads as
 * itself, and `userAgentBytes(userAgentText(b))` is `b` for every `b`. Going
 * the other way, `userAgentBytes` is lenient: a backslash that starts no
 * escape stands for itself, so any JS string encodes to something.
 */
import { WireError } from '../errors.js';

const BACKSLASH = 0x5c;
const HEX = '0123456789abcdef';
/** A lone UTF-16 surrogate (String.prototype.isWellFormed is ES2024, past our lib). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The escaped text form of user agent bytes (see the module comment). */
export function userAgentText(b: Uint8Array): string {
  // Fast path: printable-or-not ASCII without a backslash is its own text.
  let ascii = true;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c >= 0x80 || c === BACKSLASH) {
      ascii = false;
      break;
    }
  }
  if (ascii) return Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');
  let out = '';
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      out += c === BACKSLASH ? '\\\\' : String.fromCharCode(c);
      i++;
      continue;
    }
    const n = sequenceLength(b, i);
    if (n === 0) {
      out += '\\x' + HEX[c >> 4] + HEX[c & 15];
      i++;
      continue;
    }
    out += Buffer.from(b.buffer, b.byteOffset + i, n).toString('utf8');
    i += n;
  }
  return out;
}

/**
 * Length of the well-formed UTF-8 sequence starting at `i` (2-4), or 0 when
 * the byte there starts none (Unicode Table 3-7: no overlongs, no surrogates,
 * nothing above U+10FFFF).
 */
function sequenceLength(b: Uint8Array, i: number): number {
  const c = b[i]!;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => i + k < b.length && b[i + k]! >= lo && b[i + k]! <= hi;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((c >= 0xe1 && c <= 0xec) || c === 0xee || c === 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (c === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (c === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x61 && code <= 0x66) return code - 0x61 + 10;
  return -1;
}

/**
 * The bytes a user agent text stands for: the inverse of userAgentText. A
 * string that is not well-formed UTF-16 (a lone surrogate) has no UTF-8 form:
 * ERR_UNENCODABLE rather than a silent U+FFFD.
 */
export function userAgentBytes(text: string): Uint8Array {
  if (!text.includes('\\')) {
    if (LONE_SURROGATE.test(text)) throw new WireError('ERR_UNENCODABLE', 'version: user agent has a lone surrogate (not encodable as UTF-8)');
    return Buffer.from(text, 'utf8');
  }
  const parts: Buffer[] = [];
  let run = '';
  const flush = (): void => {
    if (run === '') return;
    if (LONE_SURROGATE.test(run)) throw new WireError('ERR_UNENCODABLE', 'version: user agent has a lone surrogate (not encodable as UTF-8)');
    parts.push(Buffer.from(run, 'utf8'));
    run = '';
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\') {
      if (text[i + 1] === '\\') {
        run += '\\';
        i++;
        continue;
      }
      if (text[i + 1] === 'x') {
        const hi = hexValue(text.charCodeAt(i + 2));
        const lo = hexValue(text.charCodeAt(i + 3));
        if (hi >= 0 && lo >= 0) {
          flush();
          parts.push(Buffer.of(hi * 16 + lo));
          i += 3;
          continue;
        }
      }
    }
    run += ch;
  }
  flush();
  return Buffer.concat(parts);
}
