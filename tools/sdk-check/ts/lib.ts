// Helpers shared by the TypeScript flow programs of `make sdk-check` (see ../run).

export const base = env("SDKCHECK_URL");
export const token = env("SDKCHECK_TOKEN");

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

/** ok reports a step that passed; the runner counts these lines. */
export function ok(msg: string): void {
  console.log(`ok    ${msg}`);
}

/** An answer of either client: the raw Response and the parsed data or error. */
interface Answer {
  response?: Response;
  data?: unknown;
  error?: unknown;
}

/** fail stops the flow with the step, the status and what arrived. */
export function fail(step: string, a: Answer): never {
  throw new Error(`${step}: status ${a.response?.status}: ${JSON.stringify(a.data ?? a.error)}`);
}

/** status fails the step unless the answer has that status. */
export function status(step: string, a: Answer, want: number): void {
  if (a.response?.status !== want) fail(`${step} (want ${want})`, a);
}

/** same compares two lists of strings. */
export function same(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((v, i) => v === b[i]);
}

/** main runs a flow and turns a failure into exit status 1. */
export function main(flow: () => Promise<void>): void {
  flow().catch((err: unknown) => {
    console.error("FAIL:", err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
