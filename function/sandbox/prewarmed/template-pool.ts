/**
 * The prewarmed executor's templates: `count` slots, each served by one template at a time. A
 * template is replaced after `maxExecutions` forks or `maxAgeMs` of service, and at once when it
 * exits unexpectedly. The successor starts before the template is due, once nine tenths of either
 * budget are used (when that leaves at least one execution). It takes over as soon as it is
 * ready, so a busy service rarely waits for a start. The old template then exits once its running
 * executions have ended. Templates start on first use and stop with `stop`.
 */
import { readdir, rm } from "node:fs/promises";
import path from "node:path";
import { log } from "../../log.js";
import { TemplateProcess, type TemplateOptions } from "./template-process.js";

/** How often idle templates are checked for their age. */
const MAINTENANCE_INTERVAL_MS = 1000;
/** How long `stop` waits for killed templates to exit. */
const STOP_TIMEOUT_MS = 5000;
const SOCKET_SUFFIX = ".sock";

export type TemplatePoolOptions = Readonly<{
  template: Omit<TemplateOptions, "socketPath">;
  /** Directory of the templates' sockets, which each template makes (template_start.py). */
  socketDir: string;
  count: number;
  maxExecutions: number;
  maxAgeMs: number;
}>;

type Slot = { current: TemplateProcess | undefined; successor: TemplateProcess | undefined };

export class TemplatePool {
  private slots: Slot[] = [];
  /** Every template not yet exited, including retired ones. */
  private readonly live = new Set<TemplateProcess>();
  private isStarted = false;
  private sequence = 0;
  private timer: NodeJS.Timeout | undefined;
  private starting: Promise<void> | undefined;

  constructor(private readonly options: TemplatePoolOptions) {}

  /**
   * Returns a ready template that may take an execution, the least busy one, waiting for a
   * start when none is. Throws when a template failed to start.
   */
  async acquire(): Promise<TemplateProcess> {
    if (!this.isStarted) {
      // A failed start is retried by the next call.
      this.starting ??= this.start().finally(() => (this.starting = undefined));
      await this.starting;
    }
    for (;;) {
      this.maintain();
      const usable = this.slots
        .map((slot) => slot.current)
        .filter((template): template is TemplateProcess => template?.isUsable === true)
        .filter((template) => !this.isDue(template));
      if (usable.length > 0) {
        return usable.reduce((least, t) => (t.activeCount < least.activeCount ? t : least));
      }

      const pending = this.slots
        .flatMap((slot) => [slot.current, slot.successor])
        .filter((template): template is TemplateProcess => template?.isReady === false);
      if (pending.length === 0) {
        throw new Error("no template is ready or starting");
      }
      await Promise.race(pending.map((template) => template.ready));
    }
  }

  /** Kills every template and removes the sockets; the next `acquire` starts new ones. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.isStarted = false;
    this.starting = undefined;
    this.slots = [];
    const templates = [...this.live];
    templates.forEach((template) => template.stop());
    const timeout = new Promise((resolve) => setTimeout(resolve, STOP_TIMEOUT_MS).unref());
    await Promise.race([Promise.all(templates.map((template) => template.exited)), timeout]);
    await this.removeSockets();
  }

  /** Removes stale sockets and starts the first templates. */
  private async start(): Promise<void> {
    await this.removeSockets();

    this.slots = Array.from({ length: this.options.count }, () => ({
      current: undefined,
      successor: undefined,
    }));
    this.isStarted = true;
    this.maintain();
    this.timer = setInterval(() => this.maintain(), MAINTENANCE_INTERVAL_MS).unref();
  }

  /**
   * Brings every slot to a served state: a live current template, a successor once the current
   * one is nearly due, and the successor promoted once it is ready.
   */
  private maintain(): void {
    if (!this.isStarted) {
      return;
    }
    for (const slot of this.slots) {
      if (slot.successor?.hasExited) {
        slot.successor = undefined;
      }
      if (slot.current === undefined || slot.current.hasExited) {
        slot.current = slot.successor ?? this.spawn();
        slot.successor = undefined;
      }
      const current = slot.current;
      if (current.isReady && this.isNearlyDue(current) && slot.successor === undefined) {
        slot.successor = this.spawn();
      }
      if (slot.successor?.isReady === true) {
        current.retire();
        slot.current = slot.successor;
        slot.successor = undefined;
      }
    }
  }

  private spawn(): TemplateProcess {
    this.sequence += 1;
    const socketPath = path.join(
      this.options.socketDir,
      `${process.pid}-${this.sequence}${SOCKET_SUFFIX}`,
    );
    const template = new TemplateProcess({ ...this.options.template, socketPath });
    this.live.add(template);
    void template.ready.then(
      () => this.maintain(),
      () => {},
    );
    void template.exited.then(() => {
      this.live.delete(template);
      void rm(socketPath, { force: true });
      this.maintain();
    });
    return template;
  }

  private isDue(template: TemplateProcess): boolean {
    const { maxExecutions, maxAgeMs } = this.options;
    return template.forkCount >= maxExecutions || this.ageMs(template) >= maxAgeMs;
  }

  /** Past nine tenths of either budget, but never so early that the template served nothing. */
  private isNearlyDue(template: TemplateProcess): boolean {
    const { maxExecutions, maxAgeMs } = this.options;
    const executions = Math.max(1, Math.floor(maxExecutions * 0.9));
    return (
      this.isDue(template) ||
      template.forkCount >= executions ||
      this.ageMs(template) >= maxAgeMs * 0.9
    );
  }

  private ageMs(template: TemplateProcess): number {
    return template.readyAtMs === undefined ? 0 : performance.now() - template.readyAtMs;
  }

  private async removeSockets(): Promise<void> {
    const names = await readdir(this.options.socketDir).catch(() => []);
    const stale = names.filter((name) => name.endsWith(SOCKET_SUFFIX));
    // force: a template that exits meanwhile removes its own socket.
    await Promise.all(
      stale.map((name) => rm(path.join(this.options.socketDir, name), { force: true })),
    );
    if (stale.length > 0) {
      log.info("Removed stale template sockets", { count: stale.length });
    }
  }
}
