// Configuration from environment variables, validated once at start-up against a declarative spec.
// Every problem is collected and reported in one error that names each variable and its expected
// form; the values of secret variables never appear in it.
import { z } from 'zod';

export interface EnvVar<T> {
  readonly env: string;
  readonly description: string;
  /** Parses the raw string (after trimming). */
  readonly schema: z.ZodType<T, string>;
  /** Used when the variable is unset or empty; absent means the variable is required. */
  readonly default?: string;
  /** Optional variables without a default resolve to undefined. */
  readonly optional?: boolean;
  readonly secret?: boolean;
  /** The expected form, shown in errors and docs. */
  readonly format: string;
}

export type ConfigSpec = Readonly<Record<string, EnvVar<unknown>>>;

export type ConfigOf<S extends ConfigSpec> = {
  -readonly [K in keyof S]: S[K] extends EnvVar<infer T> ? S[K] extends { optional: true } ? T | undefined
    : T
    : never;
};

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** The value .env.example gives the variables an operator must fill in. */
const PLACEHOLDER = 'ChangeMe';

export function envVar<T>(spec: EnvVar<T>): EnvVar<T> {
  return spec;
}

/** Loads and validates every variable of `spec`; throws one ConfigError naming all problems. */
export function loadConfig<S extends ConfigSpec>(spec: S, env: NodeJS.ProcessEnv = process.env): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, v] of Object.entries(spec)) {
    const raw = env[v.env]?.trim();
    const value = raw === undefined || raw === '' ? v.default : raw;
    if (value === undefined) {
      if (v.optional) {
        out[key] = undefined;
        continue;
      }
      problems.push(`${v.env} is required: ${v.description} (expected ${v.format})`);
      continue;
    }
    // .env.example's placeholder, left in place: refused whatever the variable's form would accept.
    if (value.toLowerCase() === PLACEHOLDER.toLowerCase()) {
      problems.push(`${v.env} is still the placeholder ${PLACEHOLDER}: ${v.description} (expected ${v.format})`);
      continue;
    }
    const parsed = v.schema.safeParse(value);
    if (parsed.success) {
      out[key] = parsed.data;
    } else {
      const reason = parsed.error.issues.map((i) => i.message).join('; ');
      const shown = v.secret ? '' : ` (got ${JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)})`;
      problems.push(`${v.env} is invalid${shown}: ${reason}; expected ${v.format}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as ConfigOf<S>;
}

/**
 * For entry points: loads the configuration or, on a ConfigError, prints it (values of secrets are
 * never in it) and exits with status 2, the conventional "bad usage" code, instead of a stack trace.
 */
export function loadConfigOrExit<T>(service: string, load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${service}: ${err.message}\n`);
    process.exit(2);
  }
}

/** The values of the secret variables actually set, so the logger can scrub them from any output. */
export function secretValues(spec: ConfigSpec, env: NodeJS.ProcessEnv = process.env): string[] {
  const out: string[] = [];
  for (const v of Object.values(spec)) {
    const raw = v.secret ? env[v.env]?.trim() : undefined;
    if (raw) out.push(raw);
  }
  return out;
}

// Parsers for the forms environment variables take. Each accepts the raw string.
export const parse = {
  string: (): z.ZodType<string, string> => z.string().min(1, 'must not be empty'),
  url: (opts: { protocols?: readonly string[] } = {}): z.ZodType<string, string> => {
    const protocols = opts.protocols ?? ['http:', 'https:'];
    return z.string().refine(
      (s) => {
        try {
          return protocols.includes(new URL(s).protocol);
        } catch {
          return false;
        }
      },
      { message: `not a valid ${protocols.map((p) => p.replace(':', '')).join('/')} URL` },
    ).transform((s) => s.replace(/\/+$/, ''));
  },
  int: (opts: { min?: number; max?: number } = {}): z.ZodType<number, string> =>
    z
      .string()
      .regex(/^-?\d+$/, 'not an integer')
      .transform(Number)
      .pipe(z.number().int().min(opts.min ?? Number.MIN_SAFE_INTEGER).max(opts.max ?? Number.MAX_SAFE_INTEGER)),
  bool: (): z.ZodType<boolean, string> =>
    z
      .string()
      .transform((s) => s.toLowerCase())
      .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'not a boolean' }))
      .transform((s) => s === 'true' || s === '1' || s === 'yes'),
  list: (opts: { min?: number } = {}): z.ZodType<string[], string> =>
    z
      .string()
      .transform((s) => s.split(',').map((x) => x.trim()).filter((x) => x.length > 0))
      .pipe(z.array(z.string()).min(opts.min ?? 1, 'must list at least one value')),
  oneOf: <const T extends readonly [string, ...string[]]>(values: T): z.ZodType<T[number], string> => z.enum(values, { message: `must be one of ${values.join(', ')}` }),
  uuid: (): z.ZodType<string, string> => z.string().uuid('not a UUID'),
};
