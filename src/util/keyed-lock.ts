// Runs async sections one at a time per key, whatever their outcome. The store runs
// writes of one object in turn with it; the controller runs a pool's refills and the
// claims from it in turn (the work queue alone would not: they are different keys).

export class KeyedLock {
  /** The last section queued for each key; each next one waits for it. */
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(key: string, section: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(section);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Resolves once no section of any key is queued or running. */
  async settled(): Promise<void> {
    while (this.tails.size > 0) await Promise.all(this.tails.values());
  }
}
