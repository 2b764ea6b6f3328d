/**
 * Graceful shutdown on SIGTERM and SIGINT. The Functions Framework installs its own listeners
 * once the server listens, and they exit at once, cutting running executions off mid-response.
 * This module removes those listeners as they are added and runs `drain` instead, then exits.
 */
import { describeError, log } from "../log.js";

const SIGNALS = ["SIGTERM", "SIGINT"] as const;

/** Installs `drain` as the only handler of SIGTERM and SIGINT, now and after the framework's. */
export function installGracefulShutdown(drain: () => Promise<void>): void {
  let isDraining = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (isDraining) {
      return;
    }

    isDraining = true;
    log.info("Shutting down: draining executions", { signal });
    drain()
      .catch((error: unknown) => log.error("Drain failed", { error: describeError(error) }))
      .finally(() => process.exit(0));
  };

  for (const signal of SIGNALS) {
    process.on(signal, onSignal);
  }

  // NOTE: relies on the framework adding its listeners with process.on after the module loaded
  // (Functions Framework 5: ErrorHandler.register, in the listen callback).
  process.on("newListener", (event, listener) => {
    if ((SIGNALS as readonly (string | symbol)[]).includes(event) && listener !== onSignal) {
      setImmediate(() => process.removeListener(event, listener as () => void));
    }
  });
}
