// The command types come from @octi-defender/indicators; the pure core reads only these parts.
export type { Command as ClaimCommand, CommandSource as ClaimSource, IndicatorFacts } from '@octi-defender/indicators';
