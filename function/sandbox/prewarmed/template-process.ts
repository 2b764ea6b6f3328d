/**
 * One template interpreter of the prewarmed executor (sandbox-image/runner/template.py). It is
 * started as root, directly or through the launcher when the service is not root, with a fresh
 * runner's environment minus the per-execution variables. It reports ready once it has
 * preloaded, forks one child per execution on request and reports each child's exit status. The
 * line protocol on its stdout, the connection headers and the execution's fields are described
 * in template.py and forked.py and must stay in sync with them.
 *
 * A forked child waits for its execution's fields before it takes the execution's uid, so the
 * executor may fork children ahead of requests (spares.ts).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createInterface } from "node:readline";
import type net from "node:net";
import { log } from "../../log.js";
import { openConnection } from "./connection.js";
import { TemplateExitedError, TemplateLostError } from "./errors.js";
import { SANDBOX_PATH } from "../runner-settings.js";

const STARTUP_TIMEOUT_MS = 60_000;
/** How long the template may take to report a fork. It forks as soon as the headers are in. */
const FORK_TIMEOUT_MS = 10_000;
/** The execution's fields are sent as their byte length in this many digits, then the JSON. */
const EXECUTION_LENGTH_DIGITS = 8;
const STDERR_TAIL_BYTES = 4000;
const MAX_STDERR_LINES_LOGGED = 100;

/**
 * A fresh runner's variables that do not depend on the execution. The interpreter reads them at
 * start-up (locale, stdio encoding, OpenBLAS threads), so the template must start with them.
 */
const TEMPLATE_ENVIRONMENT = { LANG: "C.UTF-8", PATH: SANDBOX_PATH, OPENBLAS_NUM_THREADS: "1" };

export type TemplateOptions = Readonly<{
  pythonPath: string;
  templatePath: string;
  /** The template's socket, in a directory only the service's user may enter. */
  socketPath: string;
  /** The set-user-ID launcher that starts the template as root; unset when the service is root. */
  launcherPath: string | undefined;
  uid: number;
  gid: number;
  poolUidBase: number;
  poolUidCount: number;
  preloadModules: readonly string[];
}>;

/** The fields of its execution that a forked child reads and checks (forked.py). */
export type ExecutionFields = Readonly<{
  uid: number;
  gid: number;
  directory: string;
  environment: Readonly<Record<string, string>>;
  /** The runner configuration, the same JSON text a fresh runner gets as argv[1]. */
  config: string;
}>;

export type ForkedChild = Readonly<{
  pid: number;
  /** The template that forked the child and reports its exit status. */
  template: TemplateProcess;
  /** Sends the execution's fields; the child takes the execution's uid once it has them. */
  start: (fields: ExecutionFields) => void;
  /** The child's stdin and stdout. */
  main: net.Socket;
  stderr: net.Socket;
  /** The result channel, fd 3. */
  result: net.Socket;
  /**
   * Resolves with the exit status (the exit code, or minus the signal number) once the template
   * reaped the child. Rejects with TemplateExitedError when the template exits first.
   */
  status: Promise<number>;
}>;

type Waiter<T> = { resolve: (value: T) => void; reject: (error: Error) => void };

export class TemplateProcess {
  /** Resolves once the template has preloaded; rejects when it failed to start. */
  readonly ready: Promise<void>;
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
  /** Children forked, each for one execution. */
  forkCount = 0;
  readyAtMs: number | undefined;
  hasExited = false;
  private isRetired = false;
  private readonly child: ChildProcess;
  private readonly pendingForks = new Map<string, Waiter<number>>();
  private readonly runningChildren = new Map<string, Waiter<number>>();
  private stderrTail = "";
  private stderrLinesLogged = 0;

  constructor(private readonly options: TemplateOptions) {
    const config = {
      socket_path: options.socketPath,
      uid: options.uid,
      gid: options.gid,
      pool_uid_base: options.poolUidBase,
      pool_uid_count: options.poolUidCount,
      preload: options.preloadModules,
    };
    const command = [options.pythonPath, "-I", "-B", options.templatePath, JSON.stringify(config)];
    const [file, ...args] =
      options.launcherPath === undefined ? command : [options.launcherPath, "template", ...command];
    // stdin must be a socketpair (Node's "pipe"): the template learns the service's uid from it.
    // detached: a session of its own, so a terminal's signals reach only the service.
    this.child = spawn(file!, args, {
      cwd: "/",
      env: TEMPLATE_ENVIRONMENT,
      stdio: ["pipe", "pipe", "pipe"],
      detached: true,
    });
    this.child.stdin!.on("error", () => {});
    this.exited = new Promise((resolve) => this.child.once("close", () => resolve()));
    this.ready = this.watch();
    this.ready.catch(() => {});
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get isReady(): boolean {
    return this.readyAtMs !== undefined && !this.hasExited;
  }

  /** Ready, alive and not retired. */
  get isUsable(): boolean {
    return this.isReady && !this.isRetired;
  }

  /** Children that were forked and have not ended. */
  get activeCount(): number {
    return this.runningChildren.size;
  }

  /**
   * Opens a child's three connections and waits for the template to fork. Throws
   * TemplateLostError when the template is gone before it reported the fork.
   */
  async fork(): Promise<ForkedChild> {
    if (!this.isUsable) {
      throw new TemplateLostError(`template pid ${this.pid} takes no more executions`);
    }

    this.forkCount += 1;
    const execId = randomUUID();
    const pid = this.register(this.pendingForks, execId);
    const status = this.register(this.runningChildren, execId);
    void status.then(
      () => this.endExecution(execId),
      () => this.endExecution(execId),
    );
    const headers = [
      { exec_id: execId, role: "main" },
      { exec_id: execId, role: "stderr" },
      { exec_id: execId, role: "result" },
    ];
    const opening = headers.map((header) => openConnection(this.options.socketPath, header));
    try {
      const [main, stderr, result] = (await Promise.all(opening)) as [
        net.Socket,
        net.Socket,
        net.Socket,
      ];
      return {
        pid: await this.waitForPid(pid),
        template: this,
        start: (fields) => main.write(toExecutionMessage(fields)),
        main,
        stderr,
        result,
        status,
      };
    } catch (error) {
      // Connections that did open are closed, which makes the template drop the execution.
      const settled = await Promise.allSettled(opening);
      settled.forEach((outcome) => outcome.status === "fulfilled" && outcome.value.destroy());
      this.runningChildren.get(execId)?.reject(toError(error));
      throw this.hasExited && !(error instanceof TemplateLostError)
        ? new TemplateLostError(`template pid ${this.pid} exited before it forked`)
        : error;
    } finally {
      this.pendingForks.delete(execId);
    }
  }

  /** Takes no new execution, and exits once the children it forked have ended. */
  retire(): void {
    this.isRetired = true;
    this.exitWhenIdle();
  }

  /**
   * Stops the template now. Its stdin ends, which is all a service that is not root can do (the
   * template then exits as soon as it reads it), and it gets SIGKILL where the service may send it.
   */
  stop(): void {
    if (!this.hasExited) {
      this.child.stdin?.end();
      this.child.kill("SIGKILL");
    }
  }

  private register(waiters: Map<string, Waiter<number>>, execId: string): Promise<number> {
    const promise = new Promise<number>((resolve, reject) =>
      waiters.set(execId, { resolve, reject }),
    );
    promise.catch(() => {});
    return promise;
  }

  private async waitForPid(pid: Promise<number>): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new Error(`template pid ${this.pid} did not fork within ${FORK_TIMEOUT_MS} ms`)),
        FORK_TIMEOUT_MS,
      );
    });
    try {
      return await Promise.race([pid, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private endExecution(execId: string): void {
    this.runningChildren.delete(execId);
    this.exitWhenIdle();
  }

  private exitWhenIdle(): void {
    if (this.isRetired && this.runningChildren.size === 0) {
      // The template exits when its stdin ends.
      this.child.stdin?.end();
    }
  }

  /** Follows the template's events and stderr; resolves on its ready line. */
  private watch(): Promise<void> {
    const started = performance.now();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`template did not start within ${STARTUP_TIMEOUT_MS} ms`));
        this.stop();
      }, STARTUP_TIMEOUT_MS);
      this.child.once("error", (error) => {
        // Only a failed spawn leaves the process without a pid; then no "exit" follows.
        if (this.child.pid === undefined) {
          clearTimeout(timer);
          this.hasExited = true;
          reject(error);
        }
      });

      createInterface({ input: this.child.stdout! }).on("line", (line) => {
        const event = parseEvent(line);
        if (event?.ready === true) {
          clearTimeout(timer);
          this.readyAtMs = performance.now();
          logReady(this.pid, event, performance.now() - started);
          resolve();
        } else if (typeof event?.startup_error === "string") {
          reject(new Error(`template failed to start: ${event.startup_error}`));
        } else {
          this.handleEvent(event, line);
        }
      });
      this.child.stderr!.on("data", (chunk: Buffer) => this.recordStderr(chunk.toString()));
      this.child.once("exit", (code, signal) => {
        clearTimeout(timer);
        this.hasExited = true;
        const how = signal ?? `status ${code}`;
        reject(new Error(`template exited with ${how} before it was ready: ${this.stderrTail}`));
        this.failWaiters(how);
      });
    });
  }

  private handleEvent(event: Record<string, unknown> | undefined, line: string): void {
    const execId = typeof event?.exec_id === "string" ? event.exec_id : undefined;
    if (execId !== undefined && typeof event?.pid === "number") {
      this.pendingForks.get(execId)?.resolve(event.pid);
    } else if (execId !== undefined && typeof event?.error === "string") {
      this.pendingForks.get(execId)?.reject(new Error(`template could not fork: ${event.error}`));
    } else if (execId !== undefined && typeof event?.status === "number") {
      this.runningChildren.get(execId)?.resolve(event.status);
    } else {
      log.warning("Unexpected line from a template", { pid: this.pid, line: line.slice(0, 500) });
    }
  }

  private failWaiters(how: string): void {
    if (this.readyAtMs !== undefined) {
      log.warning("Template exited", {
        pid: this.pid,
        exit: how,
        retired: this.isRetired,
        executions: this.forkCount,
        running: this.runningChildren.size,
      });
    }
    for (const waiter of this.pendingForks.values()) {
      waiter.reject(new TemplateLostError(`template pid ${this.pid} exited with ${how}`));
    }
    for (const waiter of this.runningChildren.values()) {
      waiter.reject(new TemplateExitedError(this.pid));
    }
  }

  /** Keeps the end of stderr for start-up errors and logs its first lines. */
  private recordStderr(text: string): void {
    this.stderrTail = (this.stderrTail + text).slice(-STDERR_TAIL_BYTES);
    for (const line of text.split("\n").filter((entry) => entry.trim() !== "")) {
      if (this.stderrLinesLogged < MAX_STDERR_LINES_LOGGED) {
        this.stderrLinesLogged += 1;
        log.warning("Template stderr", { pid: this.pid, line: line.slice(0, 2000) });
      }
    }
  }
}

function logReady(pid: number | undefined, event: Record<string, unknown>, elapsedMs: number) {
  const unavailable = event.unavailable;
  log.info("Template ready", {
    pid,
    startMs: Math.round(elapsedMs),
    preloaded: Array.isArray(event.preloaded) ? event.preloaded.join(",") : "",
    unavailable: typeof unavailable === "object" && unavailable !== null ? unavailable : {},
    preloadedBytes: typeof event.preloaded_bytes === "number" ? event.preloaded_bytes : 0,
  });
}

/** Encodes the execution's fields as forked.py reads them: length in fixed digits, then JSON. */
export function toExecutionMessage(fields: ExecutionFields): Buffer {
  const json = Buffer.from(JSON.stringify(fields));
  const length = String(json.length).padStart(EXECUTION_LENGTH_DIGITS, "0");
  return Buffer.concat([Buffer.from(length, "ascii"), json]);
}

/** Closes the child's three connections. A child still waiting for its execution then exits. */
export function closeConnections(child: ForkedChild): void {
  [child.main, child.stderr, child.result].forEach((socket) => socket.destroy());
}

function parseEvent(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
