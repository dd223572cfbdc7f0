// The command line the alternating-rounds benchmarks share: `--rounds N`, `--duration S`,
// `--no-profile`. Anything else is refused with the list of what is accepted.
export interface RoundArgs {
  rounds?: number;
  durationS?: number;
  profile?: boolean;
}

export function parseRoundArgs(args: readonly string[]): RoundArgs {
  const o: RoundArgs = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const n = Number(args[i + 1]);
    if (a === "--rounds" && Number.isInteger(n) && n > 0) (o.rounds = n), i++;
    else if (a === "--duration" && n > 0) (o.durationS = n), i++;
    else if (a === "--no-profile") o.profile = false;
    else throw new Error(`unknown argument ${a}; use --rounds N, --duration SECONDS, --no-profile`);
  }
  return o;
}
