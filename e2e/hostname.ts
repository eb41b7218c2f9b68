// Preloaded (`node --import`) into each service process of the suite: os.hostname() answers
// E2E_HOSTNAME, as each pod of a Deployment has its own host name while the suite's processes share
// this machine's. Two processes given one name are "two writers on one host".
import os from 'node:os';
import { syncBuiltinESMExports } from 'node:module';

const name = process.env.E2E_HOSTNAME;
if (name) {
  os.hostname = () => name;
  syncBuiltinESMExports();
}
