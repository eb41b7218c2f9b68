// Import rules checked by `npm run lint` (dependency-cruiser: it resolves the workspaces' `exports`
// and the `node:` built-ins and reads the whole tree in seconds, with no cache to warm).
/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'A cycle (type-only imports included) ties modules that should be layered: move what both need into a module both import.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'pure-core',
      comment: "A service's src/core is pure decision code: no storage, network, processes, Kafka, Defender client, breaker or logger; the shell around it does the I/O.",
      severity: 'error',
      from: { path: '^services/[^/]+/src/core/' },
      to: {
        path: [
          '^(node:)?(sqlite|fs|fs/promises|net|http|https|child_process)$',
          '(^|/)node_modules/(undici|kafkajs|@azure/msal-node|opossum|pino)/',
          '^libs/kafka/',
        ],
      },
    },
  ],
  options: {
    doNotFollow: { path: '(^|/)node_modules/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'node', 'default'],
      extensions: ['.ts', '.js'],
    },
    progress: { type: 'none' },
  },
};
