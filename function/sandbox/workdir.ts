/**
 * The per-execution directory: `jailed_code`, an optional `python_lib.zip` and a writable `tmp/`.
 * It is created fresh under the execution root (root-owned, so nobody else can plant links
 * there), every file is created exclusively so no existing link is followed, and it is removed in
 * every case once the execution's processes are gone.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import path from "node:path";
import { deleteDirectory, giveDirectory } from "./privilege.js";
import type { SandboxIdentity } from "./uid-pool.js";

export const CODE_FILE_NAME = "jailed_code";
export const SCRATCH_DIR_NAME = "tmp";
const DIR_PREFIX = "exec-";

export type WorkdirFile = Readonly<{ name: string; data: Buffer }>;

/**
 * Creates the directory and its files, owned by the identity's uid so the code can list and
 * write inside it. Removes what it created and rethrows when a step fails.
 *
 * The files are written synchronously: a few small writes to a local or in-memory filesystem
 * take microseconds, while each trip through the thread pool added a fraction of a millisecond
 * to every execution.
 */
export async function createWorkdir(
  execRoot: string,
  identity: SandboxIdentity,
  code: string,
  files: readonly WorkdirFile[],
): Promise<string> {
  const dir = mkdtempSync(path.join(execRoot, DIR_PREFIX));
  try {
    // A lone surrogate in the code cannot be written as UTF-8; the runner receives the exact code
    // on stdin, and this file only serves the source lines shown in tracebacks.
    writeFileSync(path.join(dir, CODE_FILE_NAME), code, { flag: "wx", mode: 0o644 });
    for (const file of files) {
      writeFileSync(path.join(dir, path.basename(file.name)), file.data, {
        flag: "wx",
        mode: 0o644,
      });
    }

    mkdirSync(path.join(dir, SCRATCH_DIR_NAME), { mode: 0o700 });
    await giveDirectory(identity, dir);
    return dir;
  } catch (error) {
    await removeWorkdir(dir);
    throw error;
  }
}

/** Removes the directory tree; symbolic links inside are removed, never followed. */
export async function removeWorkdir(dir: string): Promise<void> {
  await deleteDirectory(dir);
}

/** True for names that createWorkdir makes, so start-up can remove leftovers of a crash. */
export function isWorkdirName(name: string): boolean {
  return name.startsWith(DIR_PREFIX);
}
