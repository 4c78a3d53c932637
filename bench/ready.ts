/** Marks the line on which a bench server (`serve.ts`) prints its address among its log lines. */
export const READY = 'BENCH_READY ';
