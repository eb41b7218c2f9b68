import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RecordedRequest } from '@octi-defender/emulators';
import { foreignWindow } from '../window.ts';

const at = (s: number): string => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
let seq = 0;
const req = (endpoint: RecordedRequest['endpoint'], s: number, query?: string, clientId = 'us', status = 200): RecordedRequest => ({
  seq: ++seq,
  time: at(s),
  method: endpoint === 'list' ? 'GET' : 'POST',
  path: '/api/indicators',
  endpoint,
  clientId,
  status,
  ...(query !== undefined && { query }),
});
const look = `?$filter=${encodeURIComponent("createdBy ne 'us' and creationTimeDateTimeUtc ge 2026-01-01T00:00:00Z")}`;

test('the worst time between an import of ours and the look before it', () => {
  const w = foreignWindow([
    req('list', 0, '?$top=10000'),
    req('import', 2),
    req('list', 5, look),
    req('import', 9),
    req('list', 10, `?$filter=${encodeURIComponent("application eq 'OpenCTI'")}`),
    req('import', 11, undefined, 'someone-else'),
    req('import', 12, undefined, 'us', 429),
    req('list', 20, look),
    req('import', 21),
  ], 'us');
  assert.deepEqual(w, { worstMs: 4000, imports: 3, looks: 2, listings: 1 });
});

test('no import: no window', () => {
  assert.deepEqual(foreignWindow([req('list', 0, look)], 'us'), { worstMs: 0, imports: 0, looks: 1, listings: 0 });
});
