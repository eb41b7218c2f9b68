// The README's state diagrams are checked against the transition tables, so the picture cannot drift.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import type { TransitionTable } from '../../src/core/transitions.ts';
import { FLOW_TRANSITIONS } from '../../src/tasks/flow-control.ts';
import { TASK_TRANSITIONS } from '../../src/tasks/partition-tasks.ts';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The edges of the mermaid block marked `%% <table>`, states as the code names them (`_` → `-`). */
function diagramEdges(table: string): Set<string> {
  const block = readme.split('```mermaid').find((b) => b.includes(`%% ${table}\n`));
  assert.ok(block, `a mermaid diagram marked %% ${table}`);
  const edges = new Set<string>();
  for (const line of block.slice(0, block.indexOf('```')).split('\n')) {
    const m = /^\s*(\S+)\s*-->\s*([^:\s]+)/.exec(line);
    if (!m?.[1] || !m[2] || m[1] === '[*]' || m[2] === '[*]') continue;
    edges.add(`${m[1].replaceAll('_', '-')} → ${m[2].replaceAll('_', '-')}`);
  }
  return edges;
}

function tableEdges<S extends string>(t: TransitionTable<S>): Set<string> {
  return new Set(Object.entries<readonly string[]>(t).flatMap(([from, tos]) => tos.map((to) => `${from} → ${to}`)));
}

describe('README state diagrams', () => {
  test('the partition task diagram is TASK_TRANSITIONS', () => {
    assert.deepEqual([...diagramEdges('TASK_TRANSITIONS')].sort(), [...tableEdges(TASK_TRANSITIONS)].sort());
  });
  test('the flow control diagram is FLOW_TRANSITIONS', () => {
    assert.deepEqual([...diagramEdges('FLOW_TRANSITIONS')].sort(), [...tableEdges(FLOW_TRANSITIONS)].sort());
  });
});
