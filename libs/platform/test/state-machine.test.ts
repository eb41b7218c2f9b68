import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidTransitionError, isValidTransition, mermaidStateDiagram, parseMermaidTransitions, StateMachine, transitionEdges, type TransitionTable } from '../src/index.ts';

type Door = 'closed' | 'open' | 'locked' | 'broken';
const DOOR: TransitionTable<Door> = {
  closed: ['open', 'locked', 'broken'],
  open: ['closed', 'broken'],
  locked: ['closed'],
  broken: [],
};
type Valve = 'shut' | 'half-open' | 'open';
const VALVE: TransitionTable<Valve> = { shut: ['half-open'], 'half-open': ['open', 'shut'], open: ['half-open'] };

test('a state machine moves along the table and reports each move', () => {
  const moves: string[] = [];
  const door = new StateMachine({ name: 'door', transitions: DOOR, initial: 'closed', onChange: (from, to) => moves.push(`${from}>${to}`) });
  assert.equal(door.state, 'closed');
  door.to('locked');
  door.to('closed');
  door.to('open');
  assert.equal(door.state, 'open');
  assert.deepEqual(moves, ['closed>locked', 'locked>closed', 'closed>open']);
});

test('an invalid move throws a clear error and changes nothing', () => {
  const moves: string[] = [];
  const door = new StateMachine({ name: 'door', transitions: DOOR, initial: 'open', onChange: (from, to) => moves.push(`${from}>${to}`) });
  assert.equal(door.can('locked'), false);
  assert.throws(() => door.to('locked'), (err: unknown) => {
    assert.ok(err instanceof InvalidTransitionError);
    assert.equal(err.message, 'door: invalid transition open -> locked (from open: closed, broken)');
    assert.deepEqual([err.machine, err.from, err.to], ['door', 'open', 'locked']);
    return true;
  });
  assert.equal(door.state, 'open');
  assert.deepEqual(moves, []);
  // Staying put is a move too, and only allowed when listed.
  assert.throws(() => door.to('open'), InvalidTransitionError);
  door.to('broken');
  assert.throws(() => door.to('closed'), /from broken: none, it is final/);
  assert.equal(isValidTransition(DOOR, 'locked', 'closed'), true);
  assert.equal(isValidTransition(DOOR, 'locked', 'open'), false);
});

test('the mermaid drawing of a table parses back to the same moves', () => {
  const drawn = mermaidStateDiagram(DOOR, 'closed');
  assert.equal(
    drawn,
    [
      'stateDiagram-v2',
      '  [*] --> closed',
      '  closed --> open',
      '  closed --> locked',
      '  closed --> broken',
      '  open --> closed',
      '  open --> broken',
      '  locked --> closed',
      '  broken --> [*]',
    ].join('\n'),
  );
  assert.deepEqual(parseMermaidTransitions(`# Door\n\n\`\`\`mermaid\n${drawn}\n\`\`\`\n`, 0), transitionEdges(DOOR, 'closed'));
});

test('a state whose name is no mermaid id is drawn under an alias and parsed back by its name', () => {
  const drawn = mermaidStateDiagram(VALVE, 'shut');
  assert.equal(
    drawn,
    [
      'stateDiagram-v2',
      '  state "half-open" as half_open',
      '  [*] --> shut',
      '  shut --> half_open',
      '  half_open --> open',
      '  half_open --> shut',
      '  open --> half_open',
    ].join('\n'),
  );
  const parsed = parseMermaidTransitions(`\`\`\`mermaid\n${drawn}\n\`\`\``, 0);
  assert.deepEqual(parsed, transitionEdges(VALVE, 'shut'));
  assert.ok(parsed.some(([from, to]) => from === 'half-open' && to === 'open'));
});

test('parseMermaidTransitions picks a block by title or index, reads labels, and sees a missing edge', () => {
  const markdown = [
    'Intro.',
    '```mermaid',
    'flowchart LR',
    '  a --> b',
    '```',
    '```mermaid',
    '---',
    'title: Gate',
    '---',
    'stateDiagram-v2',
    '  [*] --> shut',
    '  shut --> ajar: push',
    '  ajar --> shut : pull',
    '```',
    '```mermaid',
    'stateDiagram-v2',
    '  %% a comment line is no edge',
    '  [*] --> closed',
    '  closed --> open',
    '```',
  ].join('\n');
  const gate = [['[*]', 'shut'], ['ajar', 'shut'], ['shut', 'ajar']];
  assert.deepEqual(parseMermaidTransitions(markdown, 'Gate'), gate);
  // Index counts stateDiagram-v2 blocks only (the flowchart is not one).
  assert.deepEqual(parseMermaidTransitions(markdown, 0), gate);
  const partial = parseMermaidTransitions(markdown, 1);
  assert.deepEqual(partial, [['[*]', 'closed'], ['closed', 'open']]);
  assert.notDeepEqual(partial, transitionEdges(DOOR, 'closed'));
  assert.throws(() => parseMermaidTransitions(markdown, 'Door'), /no mermaid stateDiagram-v2 block titled "Door"/);
  assert.throws(() => parseMermaidTransitions(markdown, 2), /no mermaid stateDiagram-v2 block #2/);
});
