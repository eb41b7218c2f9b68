import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KNOWN_MARKINGS, MarkingRegistry, markingName, strongestTlp } from '../src/index.ts';

describe('TLP table', () => {
  const expected: [string, string][] = [
    ['marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9', 'TLP:CLEAR'], // STIX 2.1 TLP:WHITE, OpenCTI TLP:CLEAR
    ['marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da', 'TLP:GREEN'],
    ['marking-definition--f88d31f6-486f-44da-b317-01333bde0b82', 'TLP:AMBER'],
    ['marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed', 'TLP:RED'],
    ['marking-definition--826578e1-40ad-459f-bc73-ede076f81f37', 'TLP:AMBER+STRICT'], // OpenCTI
    ['marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487', 'TLP:CLEAR'], // TLP 2.0
    ['marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb', 'TLP:GREEN'],
    ['marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421', 'TLP:AMBER'],
    ['marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003', 'TLP:AMBER+STRICT'],
    ['marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1', 'TLP:RED'],
  ];
  it('holds the STIX 2.1, TLP 2.0 and OpenCTI ids', () => {
    assert.deepEqual([...KNOWN_MARKINGS.entries()].sort(), expected.sort());
  });

  it('picks the most restrictive TLP', () => {
    assert.equal(strongestTlp(['TLP:GREEN', 'PAP:RED', 'TLP:AMBER+STRICT', 'TLP:AMBER']), 'TLP:AMBER+STRICT');
    assert.equal(strongestTlp(['tlp:white']), 'TLP:CLEAR');
    assert.equal(strongestTlp(['PAP:GREEN', 'marking-definition--x']), null);
    assert.equal(strongestTlp([]), null);
  });
});

describe('markingName', () => {
  it('reads OpenCTI, STIX 2.1 and TLP 2.0 marking objects', () => {
    assert.equal(markingName({ type: 'marking-definition', name: 'PAP:GREEN', definition_type: 'PAP', definition: { pap: 'green' } }), 'PAP:GREEN');
    assert.equal(markingName({ type: 'marking-definition', definition_type: 'tlp', definition: { tlp: 'white' } }), 'TLP:CLEAR');
    assert.equal(markingName({ type: 'marking-definition', definition_type: 'statement', definition: { statement: 'Copyright ACME' } }), 'statement:Copyright ACME');
    assert.equal(
      markingName({
        type: 'marking-definition',
        name: 'TLP:AMBER+STRICT',
        extensions: { 'extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d': { extension_type: 'property-extension', tlp_2_0: 'amber+strict' } },
      }),
      'TLP:AMBER+STRICT',
    );
    assert.equal(markingName({ type: 'marking-definition' }), undefined);
  });
});

describe('MarkingRegistry', () => {
  it('names known ids and keeps unknown ids raw', () => {
    const r = new MarkingRegistry();
    assert.deepEqual(r.names(['marking-definition--f88d31f6-486f-44da-b317-01333bde0b82', 'marking-definition--unknown']), ['TLP:AMBER', 'marking-definition--unknown']);
  });

  it('learns marking definitions seen on the stream, never overriding built-ins', () => {
    const r = new MarkingRegistry();
    const pap = { type: 'marking-definition', id: 'marking-definition--0d4f2f6b-2b2a-5a4c-9a8e-2f7a6b9b1c01', name: 'PAP:AMBER', definition_type: 'PAP', definition: { pap: 'amber' } };
    assert.equal(r.learn(pap), true);
    assert.equal(r.learn(pap), false);
    assert.equal(r.name(pap.id), 'PAP:AMBER');
    assert.equal(r.learn({ type: 'marking-definition', id: 'marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9', name: 'TLP:WHITE' }), false);
    assert.equal(r.name('marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9'), 'TLP:CLEAR');
    assert.equal(r.learn({ type: 'identity', id: 'identity--x', name: 'ACME' }), false);
  });

  it('is bounded', () => {
    const r = new MarkingRegistry(2);
    for (let i = 0; i < 5; i++) r.learn({ type: 'marking-definition', id: `marking-definition--${i}`, name: `S:${i}` });
    assert.equal(r.size, KNOWN_MARKINGS.size + 2);
    assert.equal(r.name('marking-definition--4'), undefined);
  });
});
