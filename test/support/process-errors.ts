// Catches unhandled rejections and uncaught exceptions raised while code under test runs,
// so a test can assert that there were none. In a real `luma up` either one ends the
// process (Node's default), so "none" is a requirement, not a nicety.
//
// While trapped, the test runner's own listeners are set aside (and put back by
// restore()): otherwise it would report the error and fail the whole file.

export interface ProcessErrorTrap {
  /** Errors caught since the last take(). */
  take(): unknown[];
  restore(): void;
}

export function trapProcessErrors(): ProcessErrorTrap {
  const savedRejection = process.listeners('unhandledRejection');
  const savedException = process.listeners('uncaughtException');
  process.removeAllListeners('unhandledRejection');
  process.removeAllListeners('uncaughtException');
  let caught: unknown[] = [];
  const record = (error: unknown): void => {
    caught.push(error);
  };
  process.on('unhandledRejection', record);
  process.on('uncaughtException', record);
  return {
    take() {
      const taken = caught;
      caught = [];
      return taken;
    },
    restore() {
      process.off('unhandledRejection', record);
      process.off('uncaughtException', record);
      for (const listener of savedRejection) process.on('unhandledRejection', listener);
      for (const listener of savedException) process.on('uncaughtException', listener);
    },
  };
}

/** Lets pending stream teardown (and any error it raises) happen. */
export function settle(ms = 15): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function describeErrors(errors: unknown[]): string[] {
  return errors.map((error) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error)));
}
