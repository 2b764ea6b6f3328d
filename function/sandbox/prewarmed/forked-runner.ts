/**
 * Runs one execution in a child forked from a template and collects what it left, with the same
 * rules as a fresh runner (runner-process.ts). The child gets the execution's fields at once, so
 * it takes the uid and confines itself while the service moves it into the slot's cgroups, and
 * the code follows on stdin only once it is inside them. The wall-clock deadline and output past its limit kill the whole process tree
 * of the execution's uid. Once the child has exited, what it left running is killed rather than
 * waited for. The exit status comes from the template, which reaps the child.
 */
import type { Limits } from "../../config.js";
import { log } from "../../log.js";
import type { RunnerLaunch } from "../executor.js";
import type { RunnerOptions, RunnerOutcome } from "../runner-process.js";
import { ExecutionSupervisor } from "../supervisor.js";
import type { SandboxIdentity } from "../uid-pool.js";
import { TemplateLostError } from "./errors.js";
import {
  delay,
  PIPE_DRAIN_AFTER_KILL_MS,
  toDeadlineMs,
  toRunnerConfigText,
  toSandboxEnvironment,
} from "../runner-settings.js";
import type { TemplatePool } from "./template-pool.js";
import { closeConnections, type ExecutionFields, type ForkedChild } from "./template-process.js";

/** Forks tried for one execution when templates exit before they report the fork. */
const MAX_FORK_ATTEMPTS = 3;
/**
 * How long after the child's exit its channels may take to close before the processes keeping
 * them open are killed. Their ends arrive on other sockets than the exit status, in any order.
 */
const CLOSE_GRACE_MS = 50;

/**
 * Runs the launch in `spare`, a child forked ahead of the request, or else in a child forked now.
 * Throws TemplateExitedError when the child's template exits first.
 */
export async function runForked(
  templates: TemplatePool,
  options: RunnerOptions,
  launch: RunnerLaunch,
  spare: ForkedChild | undefined,
): Promise<RunnerOutcome> {
  const started = performance.now();
  const { identity, dir, limits, input, attach } = launch;
  const child = spare ?? (await forkChild(templates));

  const supervisor = new ExecutionSupervisor(
    identity,
    () => killChild(child),
    { stdout: child.main, stderr: child.stderr, result: child.result },
    options,
  );

  // The code arrives on stdin only after the child is inside the slot's cgroups, so nothing it
  // starts can be created outside them.
  try {
    child.start(toExecutionFields(options, identity, dir, limits));
    await attach(child.pid);
    child.main.end(input);
  } catch (error) {
    killChild(child);
    await Promise.race([child.status.catch(() => undefined), delay(PIPE_DRAIN_AFTER_KILL_MS)]);
    throw error;
  }

  supervisor.startDeadline(toDeadlineMs(options, limits));

  // Once the child has exited the execution is over: descendants that keep the channels open are
  // killed rather than waited for. Channels that close at once need no kill here, and the
  // clean-up after the run still kills whatever the code left. When the template exits first the
  // status is lost, and the execution is killed and fails.
  const channelsClosed = supervisor.channelsClosed;
  let templateError: unknown;
  const status = child.status.then(
    async (value) => {
      const isClosed = await Promise.race([channelsClosed.then(() => true), delay(CLOSE_GRACE_MS)]);
      if (options.confine && isClosed !== true) {
        supervisor.killTree();
      }
      return value;
    },
    (error: unknown) => {
      templateError = error;
      supervisor.killTree();
      return undefined;
    },
  );
  const exited = Promise.all([status, channelsClosed]);
  const finished = await Promise.race([exited, supervisor.giveUpAfterKill()]);
  supervisor.stopDeadline();
  if (finished === undefined) {
    // A channel is still open after the kill, and destroying the sockets ends the wait. A child
    // that never took the execution's uid (it was stopped before) survived the kill as that uid.
    killChild(child);
    closeConnections(child);
  }
  const [exitStatus] = (await Promise.race([exited, delay(PIPE_DRAIN_AFTER_KILL_MS)])) ?? [];
  await supervisor.killSettled();
  if (templateError !== undefined) {
    throw templateError;
  }
  if (exitStatus === undefined) {
    throw new Error(`forked runner pid ${child.pid} was not reaped after SIGKILL`);
  }

  return supervisor.toOutcome(exitStatus, started);
}

/**
 * Forks on a template, trying another one when the template is lost before it reported the
 * fork: such an execution never started, so it is not failed for it. A child that a lost
 * template forked but did not report never got the execution's fields, so it never ran as the
 * execution's uid.
 */
async function forkChild(templates: TemplatePool): Promise<ForkedChild> {
  for (let attempt = 1; ; attempt += 1) {
    const template = await templates.acquire();
    try {
      return await template.fork();
    } catch (error) {
      if (!(error instanceof TemplateLostError) || attempt === MAX_FORK_ATTEMPTS) {
        throw error;
      }
      log.warning("Template lost before the fork; trying another", {
        pid: template.pid,
        attempt,
        error: error.message,
      });
    }
  }
}

function toExecutionFields(
  options: RunnerOptions,
  identity: SandboxIdentity,
  dir: string,
  limits: Limits,
): ExecutionFields {
  return {
    uid: identity.uid,
    gid: identity.gid,
    directory: dir,
    environment: toSandboxEnvironment(options, dir),
    config: toRunnerConfigText(options, limits),
  };
}

/** Sends SIGKILL to the child alone: the fallback when the kill as the execution's uid failed. */
function killChild(child: ForkedChild): void {
  try {
    process.kill(child.pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}
