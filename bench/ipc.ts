// Messages between the bench (parent) and the processes it starts. Every server under test runs in
// its own child process so the load generator never shares an event loop with what it measures.

/** Child → parent, once listening. `urls` maps each configured name to its base URL. */
export interface ReadyMessage {
  type: 'ready';
  urls: Record<string, string>;
}

/** Parent → child: close servers and exit (with a grace period enforced by the parent). */
export interface StopMessage {
  type: 'stop';
}

/** Parent → gateway child: start or stop a V8 CPU profile of exactly one measurement window. */
export interface ProfileMessage {
  type: 'profile-start' | 'profile-stop';
  /** For profile-stop: where to write the .cpuprofile. */
  file?: string;
}

/** Child → parent: the profile command is done. */
export interface ProfileReply {
  type: 'profile-started' | 'profile-written';
  file?: string;
  error?: string;
}

/** Parent → gateway child: reload the config file (as SIGHUP does for `bellwether serve`). */
export interface ReloadMessage {
  type: 'reload';
}

/** Child → parent: the reload is done; `error` when the file was rejected. */
export interface ReloadReply {
  type: 'reloaded';
  error?: string;
}

export function isReloadMessage(message: unknown): message is ReloadMessage {
  return (message as { type?: unknown } | null)?.type === 'reload';
}

export function isReloadReply(message: unknown): message is ReloadReply {
  return (message as { type?: unknown } | null)?.type === 'reloaded';
}

export function isProfileMessage(message: unknown): message is ProfileMessage {
  const type = (message as { type?: unknown } | null)?.type;
  return type === 'profile-start' || type === 'profile-stop';
}

export function isProfileReply(message: unknown): message is ProfileReply {
  const type = (message as { type?: unknown } | null)?.type;
  return type === 'profile-started' || type === 'profile-written';
}

export function isReady(message: unknown): message is ReadyMessage {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'ready';
}

export function isStop(message: unknown): message is StopMessage {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'stop';
}

/** Children exit when told to, or as soon as the bench that started them goes away. */
export function exitWithParent(stop: () => Promise<void>): void {
  let stopping = false;
  const shutdown = (): void => {
    if (stopping) return;
    stopping = true;
    const force = setTimeout(() => process.exit(1), 5_000);
    force.unref();
    stop()
      .catch((err: unknown) => process.stderr.write(`bench child: stop failed: ${String(err)}\n`))
      .finally(() => process.exit(0));
  };
  process.on('message', (message: unknown) => {
    if (isStop(message)) shutdown();
  });
  process.on('disconnect', shutdown);
  process.on('SIGTERM', shutdown);
}

export function sendReady(urls: Record<string, string>): void {
  if (!process.send) throw new Error('bench child must be started with an IPC channel (child_process.fork)');
  const message: ReadyMessage = { type: 'ready', urls };
  process.send(message);
}
