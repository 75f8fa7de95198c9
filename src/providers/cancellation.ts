// How a call learns that it must stop: the client went away, or a gateway timeout fired.
// Why not an AbortSignal: creating one and listening to it (an EventTarget underneath) cost ~7 µs per
// request in the bench profile — a few per cent of the gateway's whole CPU per request — and a JSON
// request needs none of what EventTarget offers. A Cancellation is a plain listener list; the
// AbortSignal view is built only when an API needs one (timers, streaming bodies), which is never on
// the JSON path.

export class Cancellation {
  private ended = false;
  private why: unknown;
  private listeners: ((reason: unknown) => void)[] | undefined;
  private controller: AbortController | undefined;

  get aborted(): boolean {
    return this.ended;
  }

  get reason(): unknown {
    return this.why;
  }

  /** Ends this cancellation (the first reason wins) and runs its listeners. */
  abort(reason: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.why = reason;
    this.controller?.abort(reason);
    const listeners = this.listeners;
    this.listeners = undefined;
    if (listeners) for (const listener of listeners) listener(reason);
  }

  /** Runs `listener` once on abort (at once when already aborted); returns the function that removes it. */
  onAbort(listener: (reason: unknown) => void): () => void {
    if (this.ended) {
      listener(this.why);
      return noop;
    }
    (this.listeners ??= []).push(listener);
    return () => {
      const index = this.listeners?.indexOf(listener) ?? -1;
      if (index >= 0) this.listeners?.splice(index, 1);
    };
  }

  /** A cancellation that ends with this one but can also end alone (one attempt within a request). */
  child(): Cancellation {
    const child = new Cancellation();
    child.onAbort(this.onAbort((reason) => child.abort(reason)));
    return child;
  }

  /** An AbortSignal that follows this cancellation, for APIs that take one; built on first use. */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.ended) this.controller.abort(this.why);
    }
    return this.controller.signal;
  }
}

function noop(): void {}
