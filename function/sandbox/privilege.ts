/**
 * The privileged operations of the sandbox, in one place: starting a program as a pool uid,
 * giving an execution directory to that uid, killing every process of the uid, and deleting the
 * directory again. Two modes, chosen once at start-up:
 *
 * - direct: the service itself runs as root (a development machine, CI), and uses spawn's
 *   uid/gid options, chown and fs.rm;
 * - launcher: the service runs as an ordinary user (the container image) and asks the
 *   set-user-ID program sandbox-image/launcher/codejail-launch (CODEJAIL_LAUNCHER) for each
 *   step. The launcher checks every request against its own root-owned configuration.
 */
import { chownSync, readdirSync, rmSync } from "node:fs";
import { lstat, rm } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import type { SandboxIdentity } from "./uid-pool.js";

const KILL_PROGRAM = "/usr/bin/kill";

export type PrivilegeSettings = Readonly<{
  launcherPath: string | undefined;
  sandboxUidBase: number;
  sandboxUidCount: number;
}>;

/** How to start a program as a sandbox identity: the file, its arguments and spawn options. */
export type SpawnSpec = Readonly<{
  file: string;
  args: readonly string[];
  options: Readonly<{ cwd?: string; uid?: number; gid?: number }>;
}>;

let settings: PrivilegeSettings = {
  launcherPath: undefined,
  sandboxUidBase: 0,
  sandboxUidCount: 0,
};

/** Chooses the mode for the whole process; called once at start-up. */
export function configurePrivilege(next: PrivilegeSettings): void {
  settings = Object.freeze({ ...next });
}

export function privilegeMode(): "direct" | "launcher" {
  return settings.launcherPath === undefined ? "direct" : "launcher";
}

/** Describes how to run `program` as the identity, in `dir`. */
export function toSpawnSpec(
  identity: SandboxIdentity,
  dir: string,
  program: string,
  args: readonly string[],
): SpawnSpec {
  if (settings.launcherPath === undefined) {
    return { file: program, args, options: { cwd: dir, uid: identity.uid, gid: identity.gid } };
  }
  // The launcher enters the directory itself, after giving it to the uid: the service's own
  // user may no longer enter it.
  const launcherArgs = ["run", String(identity.slot), dir, program, ...args];
  return { file: settings.launcherPath, args: launcherArgs, options: {} };
}

/** Gives the execution directory and its tmp/ to the identity, so the code can write there. */
export async function giveDirectory(identity: SandboxIdentity, dir: string): Promise<void> {
  if (settings.launcherPath === undefined) {
    chownSync(path.join(dir, "tmp"), identity.uid, identity.gid);
    chownSync(dir, identity.uid, identity.gid);
    return;
  }
  await runLauncher(["prepare", String(identity.slot), dir]);
}

/** Sends SIGKILL to every process of the identity's uid: kill(-1) sent as that uid. */
export async function killAsIdentity(identity: SandboxIdentity): Promise<void> {
  if (settings.launcherPath === undefined) {
    // procps kill's exit status is not reliable for pid -1; the caller checks /proc.
    await execa(KILL_PROGRAM, ["-KILL", "-1"], {
      uid: identity.uid,
      gid: identity.gid,
      env: {},
      extendEnv: false,
      reject: false,
      stdio: "ignore",
    });
    return;
  }
  await runLauncher(["kill", String(identity.slot)]);
}

/**
 * Deletes an execution directory and everything in it, never following links. In launcher mode
 * the directory's owner tells which pool uid may delete its contents.
 */
export async function deleteDirectory(dir: string): Promise<void> {
  if (settings.launcherPath === undefined) {
    if (isSmallTree(dir)) {
      rmSync(dir, { recursive: true, force: true });
    } else {
      await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    }
    return;
  }

  const owner = await lstat(dir).then(
    (stats) => stats.uid,
    () => undefined,
  );
  const slot = owner === undefined ? -1 : owner - settings.sandboxUidBase;
  if (owner === undefined) {
    return;
  }
  if (slot < 0 || slot >= settings.sandboxUidCount) {
    // Never handed to a pool uid: it and its contents belong to the service's own user.
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    return;
  }
  await runLauncher(["clean", String(slot), dir]);
}

/** Entries that a directory may hold, at most two levels deep, to be removed synchronously. */
const MAX_SYNC_REMOVE_ENTRIES = 32;

/**
 * True when the directory contains few entries and no directory below its subdirectories: what an
 * execution usually leaves. Such a tree is removed synchronously, which takes microseconds; a
 * larger one goes through the thread pool so it cannot stall the event loop.
 */
function isSmallTree(dir: string): boolean {
  try {
    let count = 0;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      count += 1;
      if (entry.isDirectory()) {
        const inner = readdirSync(path.join(dir, entry.name), { withFileTypes: true });
        if (inner.some((child) => child.isDirectory())) {
          return false;
        }
        count += inner.length;
      }
    }
    return count <= MAX_SYNC_REMOVE_ENTRIES;
  } catch {
    return false;
  }
}

async function runLauncher(args: string[]): Promise<void> {
  const result = await execa(settings.launcherPath!, args, {
    env: {},
    extendEnv: false,
    reject: false,
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
  });
  if (result.exitCode !== 0) {
    throw new Error(`codejail-launch ${args[0]} failed (${result.exitCode}): ${result.stderr}`);
  }
}
