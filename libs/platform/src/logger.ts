// pino JSON logging with two layers of secret protection: path redaction for the places secrets
// are known to sit (headers, tokens, client secrets), and a final scrub of every output line for the
// configured secret values themselves, so a secret echoed in an error message cannot leak either.
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

export const REDACTED = '[REDACTED]';

// Key names that hold credentials wherever they appear, one or two levels deep.
const SECRET_KEYS = [
  'authorization',
  'Authorization',
  'token',
  'accessToken',
  'access_token',
  'clientSecret',
  'client_secret',
  'password',
  'secret',
  'apiKey',
  'openctiToken',
  'cookie',
];

const REDACT_PATHS: string[] = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((k) => `*.${k}`),
  ...SECRET_KEYS.map((k) => `*.*.${k}`),
  'headers["x-api-key"]',
  '*.headers["x-api-key"]',
];

interface LoggerOptions {
  readonly name: string;
  readonly level?: string;
  /** Literal secret values (tokens, client secrets) to scrub from every line. */
  readonly secrets?: readonly string[];
  readonly destination?: DestinationStream;
}

/** Replaces every occurrence of the given secrets, raw or JSON-escaped, and bearer tokens. */
function createScrubber(secrets: readonly string[]): (line: string) => string {
  const needles = new Set<string>();
  for (const s of secrets) {
    if (s.length < 4) continue; // too short to scrub without mangling unrelated text
    needles.add(s);
    needles.add(JSON.stringify(s).slice(1, -1));
  }
  const list = [...needles].sort((a, b) => b.length - a.length);
  const bearer = /(Bearer\s+)[A-Za-z0-9\-._~+/]+=*/g;
  return (line) => {
    let out = line;
    for (const n of list) {
      if (out.includes(n)) out = out.split(n).join(REDACTED);
    }
    return out.includes('Bearer') ? out.replace(bearer, `$1${REDACTED}`) : out;
  };
}

export function createLogger(opts: LoggerOptions): Logger {
  const scrub = createScrubber(opts.secrets ?? []);
  return pino(
    {
      name: opts.name,
      level: opts.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
      hooks: { streamWrite: scrub },
    },
    opts.destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
