// The benchmark report: figures of one `npm run bench` run (with the machine they were measured on)
// → the derived ratios → a markdown table, for bench/results.md and the README's Benchmarks section.
import { fmt, type Figure } from './lib.ts';

export interface Machine {
  readonly cores: number;
  readonly cpu: string;
  readonly memoryGb: number;
  readonly loadStart: readonly number[];
  readonly loadEnd: readonly number[];
  readonly node: string;
  readonly kafka: string;
  readonly kafkajs: string;
  readonly commit: string;
}

export interface Results {
  readonly mode: 'quick' | 'full';
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly machine: Machine;
  readonly figures: readonly Figure[];
  /** Bench files that exited non-zero (their figures are missing). */
  readonly failed: readonly string[];
}

const SECTIONS: readonly [string, string][] = [
  ['ceiling', '1. Ceiling (raw kafkajs, same broker)'],
  ['listener', '2. Listener (emulator load mode → committed transactions)'],
  ['writer', '3. Writer (backlog → Defender, quotas off)'],
  ['calls', '4. Defender calls'],
  ['first-sync', '5. First sync under the real quotas'],
  ['latency', '6. Latency, OpenCTI emission → Defender acceptance, 100 events/s'],
  ['memory', '7. Memory while draining a backlog'],
];

/** Figures computed from others of the same run (ratios hold on a noisy machine). */
export function derive(figures: readonly Figure[]): Figure[] {
  const get = (section: string, name: string): number | undefined => figures.find((f) => f.section === section && f.name === name)?.value;
  const out: Figure[] = [];
  const ceiling = get('ceiling', 'kafkajs transactional produce');
  const listener = get('listener', 'commands/s (committed)');
  if (ceiling !== undefined && listener !== undefined) {
    const ratio = (100 * listener) / ceiling;
    out.push({ section: 'listener', name: 'commands/s ÷ transactional-produce ceiling', value: ratio, unit: '%', target: '≥ 60', met: ratio >= 60 });
  }
  const consume = get('ceiling', 'kafkajs batch consume (read_committed)');
  const writer = get('writer', 'commands/s');
  if (consume !== undefined && writer !== undefined) out.push({ section: 'writer', name: 'commands/s ÷ batch-consume ceiling', value: (100 * writer) / consume, unit: '%' });
  return out;
}

const cell = (s: string): string => s.replaceAll('|', '\\|').replaceAll('\n', ' ');

export function renderMarkdown(r: Results): string {
  const m = r.machine;
  const lines = [
    `Run: ${r.mode} mode, ${r.startedAt} → ${r.finishedAt}, commit ${m.commit}. Machine: ${m.cores} cores (${m.cpu}), ${m.memoryGb} GB, ` +
    `load average ${m.loadStart.map((l) => l.toFixed(1)).join(' / ')} at the start and ${m.loadEnd.map((l) => l.toFixed(1)).join(' / ')} at the end (1 / 5 / 15 min); ` +
    `Node ${m.node}, Kafka ${m.kafka}, kafkajs ${m.kafkajs}.`,
    '',
    '| | figure | value | target | met | measured on |',
    '|---|---|---|---|---|---|',
  ];
  for (const [section, title] of SECTIONS) {
    const rows = r.figures.filter((f) => f.section === section);
    rows.forEach((f, i) => {
      const met = f.met === undefined ? '' : f.met ? 'met' : '**not met**';
      lines.push(`| ${i === 0 ? title : ''} | ${cell(f.name)} | ${fmt(f.value)} ${cell(f.unit)} | ${cell(f.target ?? '')} | ${met} | ${cell(f.note ?? '')} |`);
    });
    if (rows.length === 0) lines.push(`| ${title} | (not measured in this run) | | | | |`);
  }
  if (r.failed.length > 0) lines.push('', `Failed bench files (figures missing): ${r.failed.join(', ')}.`);
  return `${lines.join('\n')}\n`;
}

/** Replaces the text between the README's two markers with the table. */
export function replaceBetween(text: string, start: string, end: string, body: string): string {
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`markers ${start} … ${end} not found`);
  return `${text.slice(0, a + start.length)}\n${body}${text.slice(b)}`;
}
