// The README's state diagrams are checked against the transition tables, so the picture cannot drift.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parseMermaidTransitions, transitionEdges } from '@octi-defender/platform';
import { FLOW_TRANSITIONS } from '../../src/tasks/flow-control.ts';
import { TASK_TRANSITIONS } from '../../src/tasks/partition-tasks.ts';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('README state diagrams', () => {
  test('the partition task diagram is TASK_TRANSITIONS', () => {
    assert.deepEqual(parseMermaidTransitions(readme, 'Partition task'), transitionEdges(TASK_TRANSITIONS, 'restoring'));
  });
  test('the flow control diagram is FLOW_TRANSITIONS', () => {
    assert.deepEqual(parseMermaidTransitions(readme, 'Flow control'), transitionEdges(FLOW_TRANSITIONS, 'running'));
  });
});
