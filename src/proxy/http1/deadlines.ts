// Timeouts that almost never fire, set and cancelled for every request: the fast path's
// response timeout (armed when a request has been sent, cancelled when the response head
// arrives) and a client connection's keep-alive timeout (armed when its exchange ends,
// cancelled when the next request comes). A Node timer for each cost an object per request
// and a list operation with a clock read for every socket read and write (socket.setTimeout).
//
// Here a Deadline is an object its owner keeps and re-arms; the deadlines of one duration
// are a list in the order they were armed, which is the order they expire in, and one
// Node timer per duration waits for the first of them. Cancelling unlinks an entry; the
// timer is left alone, and when it fires early (its deadline was cancelled) it waits again
// for whatever is now first. Arming and cancelling are a clock read and a few pointers.

export class Deadline {
  /** When it expires, in performance.now() milliseconds; meaningful while armed. */
  expiresAt = 0;
  previous: Deadline | undefined;
  next: Deadline | undefined;
  list: DeadlineList | undefined;

  constructor(readonly onExpiry: () => void) {}

  get armed(): boolean {
    return this.list !== undefined;
  }

  /** Stops it from expiring (nothing happens if it is not armed). */
  cancel(): void {
    this.list?.remove(this);
  }
}

/** The deadlines of one duration, first to expire first. */
class DeadlineList {
  private first: Deadline | undefined;
  private last: Deadline | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly durationMs: number) {}

  add(deadline: Deadline, now: number): void {
    deadline.expiresAt = now + this.durationMs;
    deadline.list = this;
    deadline.previous = this.last;
    deadline.next = undefined;
    if (this.last) this.last.next = deadline;
    else this.first = deadline;
    this.last = deadline;
    if (!this.timer) this.wait(this.durationMs);
  }

  remove(deadline: Deadline): void {
    if (deadline.previous) deadline.previous.next = deadline.next;
    else this.first = deadline.next;
    if (deadline.next) deadline.next.previous = deadline.previous;
    else this.last = deadline.previous;
    deadline.previous = undefined;
    deadline.next = undefined;
    deadline.list = undefined;
  }

  private wait(ms: number): void {
    // Unreferenced: a deadline alone does not keep the process alive (its socket does).
    this.timer = setTimeout(this.expire, Math.max(1, Math.ceil(ms)));
    this.timer.unref();
  }

  private readonly expire = (): void => {
    this.timer = undefined;
    const now = performance.now();
    for (let deadline = this.first; deadline && deadline.expiresAt <= now; deadline = this.first) {
      this.remove(deadline);
      deadline.onExpiry();
    }
    if (this.first) this.wait(this.first.expiresAt - now);
  };
}

/** Deadlines by duration; one for the whole proxy. */
export class Deadlines {
  private readonly lists = new Map<number, DeadlineList>();

  /** Arms `deadline` to expire `durationMs` from now (re-arms it if it was armed). */
  arm(deadline: Deadline, durationMs: number): void {
    deadline.cancel();
    let list = this.lists.get(durationMs);
    if (!list) {
      list = new DeadlineList(durationMs);
      this.lists.set(durationMs, list);
    }
    list.add(deadline, performance.now());
  }
}
