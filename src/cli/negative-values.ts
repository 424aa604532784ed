/**
 * `--count -3`: node:util's parseArgs refuses a value that starts with a dash as "ambiguous" (it
 * may be a forgotten value followed by a flag), and tells the user to write `--count=-3`, only for
 * the option's own check to refuse -3 next. No flag of eipd's commands is a dash and a digit, so a
 * word like that after an option that takes a value can only be that value: it is attached to the
 * option before parsing, and the option's check says what range is allowed.
 */

interface Option {
  type: 'string' | 'boolean';
  short?: string;
}

/** `--name` and `-x` of the options that take a value. */
export function valueFlags(options: Readonly<Record<string, Option>>): Set<string> {
  return new Set(
    Object.entries(options).flatMap(([name, spec]) =>
      spec.type === 'string'
        ? [`--${name}`, ...(spec.short === undefined ? [] : [`-${spec.short}`])]
        : [],
    ),
  );
}

const NEGATIVE_NUMBER = /^-\.?\d/;

/** `args` with each `--name -3` written as `--name=-3` (and `-x -3` as `-x-3`). */
export function attachNegativeValues(
  args: readonly string[],
  options: Readonly<Record<string, Option>>,
): string[] {
  const flags = valueFlags(options);
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    // After `--` everything is a positional, as parseArgs has it.
    if (arg === '--') return [...out, ...args.slice(i)];
    const next = args[i + 1];
    if (flags.has(arg) && next !== undefined && NEGATIVE_NUMBER.test(next)) {
      out.push(arg.startsWith('--') ? `${arg}=${next}` : `${arg}${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}
