/**
 * Text from a request that is echoed in an answer (an id in a 404 reason, a path) is cut and
 * stripped of control characters, so that a reason never reflects arbitrary input.
 */
const MAX_ECHOED_CHARS = 64;
// biome-ignore lint/suspicious/noControlCharactersInRegex: replacing control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/g;

export function printable(text: string, max: number = MAX_ECHOED_CHARS): string {
  const chars = Array.from(text);
  const cut = chars.length > max ? `${chars.slice(0, max).join('')}…` : text;
  return cut.replace(CONTROL_CHARACTERS, '\ufffd');
}
