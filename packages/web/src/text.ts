/**
 * Bidi embeddings, overrides and isolates (U+202A-202E, U+2066-2069). In someone else's name or
 * message they can reverse what follows on screen, so `evil\u202Etxt.exe` reads `evilexe.txt`:
 * they are removed before display, as the terminal client does. Right-to-left text needs none of
 * them to show correctly: bubbles and names are isolated (`dir="auto"`, `<bdi>`) instead.
 */
const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069]/g;

export function stripBidi(text: string): string {
  return text.replace(BIDI_CONTROLS, '');
}
