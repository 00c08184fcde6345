/**
 * The check kept with a line stored by reference: a 32-bit FNV-1a hash of the line's text as
 * stored (after the carriage return is dropped and the text cut to its evidence length), so
 * that a line read back from the file is proven to be the same line. Pure, and shared by the
 * line pipeline (which computes it) and the evidence reader (which verifies it).
 */
/** Raw text kept as evidence is cut to this many characters. */
export const MAX_RAW_CHARS = 4096;

export function lineCheck(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}
