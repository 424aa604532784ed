/** BENCHMARKS.md: the results table, the machine, how to read the figures, every run's details. */
import type { Mode } from './context.js';
import { findingsMarkdown } from './findings.js';
import type { Machine } from './machine.js';
import { type Row, type RunRecord, resultsTable, runsTable, verdict } from './report.js';

export function benchmarksMarkdown(report: {
  mode: Mode;
  machine: Machine;
  rows: readonly Row[];
  runs: readonly RunRecord[];
  seconds: number;
}): string {
  const { mode, machine, rows, runs } = report;
  const goals = rows.filter((r) => r.goal !== undefined);
  const missed = goals.filter((r) => verdict(r) === 'FAIL');
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
  return `# Benchmarks

Written by \`npm run bench${mode.name === 'quick' ? ' -- --quick' : ''}\` (${mode.name} mode) on ${date} UTC, in ${Math.round(report.seconds)} s.
Every ratio compares two figures measured in the same run on the same machine, by the same load
generator, taking turns (see "How it is measured"). ${goals.length - missed.length} of ${goals.length} goals met${missed.length > 0 ? `; missed: ${missed.map((r) => r.benchmark.split(' ')[0]).join(', ')}` : ''}.

## Machine

\`\`\`sh
${machine.lines.map(([k, v]) => `${k}="${v}"`).join('\n')}
\`\`\`

**Shared cores.** The load generator (this harness, one Node.js process), the server under test
and PostgreSQL all run on these ${machine.lines.find(([k]) => k === 'CPU_CORES')?.[1] ?? '?'} cores, and so did other work on the machine
during the run (column "CPU others" below). Absolute figures are therefore far below what eipd
and PostgreSQL reach on separate machines; the ratios are what this file is about.

**Settings.** eipd runs as in production (metrics on, one log line per request, default pool
size unless a row says otherwise), with \`EIPD_RATE_LIMIT_PER_MINUTE=10000000\`: the
per-organization limiter still claims its shares of each window, but never refuses the one
organization the benchmarks send as.

**Run-to-run variation.** On a shared virtual machine successive runs differ: two quick runs a
few minutes apart have put the same ratio 0.2 apart (B1 at 0.66 and then 0.90). Each ratio is
measured in turns within one run, which cancels slow drifts but not every burst of the
neighbours' load; a FAIL close to its goal is worth a second run before it is worth a profile.

## Results

${resultsTable(rows)}

Ratios are measured / baseline (for B5: page 1000's median over page 1's). Lines without a goal
are context: per-concurrency detail, ceilings, extra cases.

${findingsMarkdown(rows, runs)}

## How it is measured

${METHOD}

## Runs

Each line is one side of a comparison, summed over its slices. CPU is percent of one core over
the measured time (${machine.lines.find(([k]) => k === 'CPU_CORES')?.[1] ?? '?'} cores = ${Number(machine.lines.find(([k]) => k === 'CPU_CORES')?.[1] ?? 0) * 100} %): the load generator (for pgbench, pgbench itself),
the server process (eipd, the minimal server or the hello-world), PostgreSQL (the benchmark
database's backends and the server's shared processes) and everything else on the machine.
Mode: warm-up ${mode.warmupMs} ms per side, ${mode.slices} slices of ${mode.sliceMs} ms per side.

${runsTable(runs)}
`;
}

const METHOD = `- **Load generator** (\`bench/lib/load.ts\`): closed loop, N workers each sending its next
  request as soon as the previous one answers, a warm-up, then a measured window; latencies go
  into a log-linear histogram (exact below 1 ms, <1 % error above). HTTP goes over one keep-alive
  connection per worker with a minimal HTTP/1.1 client (\`bench/lib/http-client.ts\`: request
  bytes built once, responses parsed only for status and Content-Length), which costs the
  generator 5 to 10 % of a core at eipd's rates, against 30 to 40 % for node:http.
- **Taking turns.** The sides of each comparison run in slices that alternate (the order
  rotating each round), so that load from elsewhere on the machine, checkpoints and autovacuum
  hit both sides alike. Every B1 concurrency starts from a truncated database and a checkpoint.
- **B1** eipd: \`POST /v1/elastic-ips\` with \`count: 1\`, no Idempotency-Key, one organization,
  quotas unset, on a /8 pool. Baseline: the same transaction on plain pg clients, one connection
  per worker, built from eipd's own exported functions (findOffering, lockQuota, claimAddresses,
  insertAllocated, \`bench/lib/allocation.ts\`), and checked at start to send exactly the
  statements eipd's use case sends. Ceiling: pgbench (C, prepared statements) on a script made
  from the statements eipd sent, the picked free range coming back with \`\\gset\`.
  "Best concurrency": eipd's best of 8, 32 and 64 clients against the baseline's best. Then,
  at 32 clients, the default eipd (a pool of 10 connections) against a second eipd with 32,
  warmed up with 5,000 requests first; and at eipd's best concurrency, 1,000 organizations
  against one and an Idempotency-Key on every request against none.
- **B2** \`GET /v1/elastic-ips/{id}\` on 1,000 EIPs, against \`bench/servers/minimal-get.ts\`:
  Fastify without logging or schemas, eipd's createTokenVerifier and findElasticIp over a pg pool
  of eipd's size (10). The two are checked to answer the same document. Ceilings: a bare
  node:http and a bare Fastify hello-world.
- **B3** bursts of 200 allocations (16 clients), the pools taking turns burst by burst, the /24
  put back to new before each of its bursts; the first round is warm-up. The large IPv4 pool is
  filled to 90 % at positions drawn uniformly at random over the whole pool (seeded), written as
  eipd writes them: EIPs and their \`allocated\` events by insertAllocated, spread over 1,000
  organizations, and the pool's free ranges replaced by its initial stripes minus the held
  addresses (initialFreeRanges and subtractPoints), so the allocator works on about one range row
  per free address.
- **B4** 32 clients allocating from one product with one /16, or from eight products with a /16
  each (4 clients per product); and the same with 32 pg clients running the baseline transaction.
- **B5** 100,000 EIPs of one organization made by the allocation transaction 100 at a time;
  one client alternates page 1 and page 1000 (\`limit\` 100, the cursor built with eipd's
  encodeCursor from the 99,900th EIP, checked to be the last page).
- **B6** VmRSS of the eipd process that served B1 to B5; PGlite start-up from spawning
  \`node dist/main.js\` to its ready line, demo catalog, on a new and then the same data directory,
  split into phases by the times of eipd's own log lines ("catalog applied", and the ready
  line's startupMs, counted from the start of main()).
- **Profiling**: \`npm run bench:profile -- --op=allocate --clients=32\` runs eipd with
  --cpu-prof under the same generator and prints its CPU per request and where it goes.`;
