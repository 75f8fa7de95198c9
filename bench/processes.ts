// Starting and stopping the bench's child processes, and reading their memory.
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isProfileReply, isReady, isReloadReply, type ProfileMessage, type ProfileReply } from './ipc.js';

export interface Child {
  name: string;
  process: ChildProcess;
  pid: number;
  urls: Record<string, string>;
  stop(): Promise<void>;
  /** Sends a profile command and waits for its reply (gateway child only). */
  profile(message: ProfileMessage): Promise<ProfileReply>;
  /** Reloads the child's config file and waits until it is in effect (gateway child only). */
  reload(): Promise<void>;
}

export interface StartOptions {
  name: string;
  /** Compiled module next to this file, e.g. 'gateway-child.js'. */
  module: string;
  args: string[];
  execArgv?: string[];
  env?: NodeJS.ProcessEnv;
  /** stdout of the child: 'inherit', 'ignore' or an open file descriptor. */
  stdout?: 'inherit' | 'ignore' | number;
  readyTimeoutMs?: number;
}

const running = new Set<ChildProcess>();
// A bench that crashes or is interrupted must not leave servers behind.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export async function startChild(options: StartOptions): Promise<Child> {
  const child = fork(fileURLToPath(new URL(options.module, import.meta.url)), options.args, {
    execArgv: options.execArgv ?? [],
    env: options.env ?? process.env,
    stdio: ['ignore', options.stdout ?? 'inherit', 'inherit', 'ipc'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const urls = await new Promise<Record<string, string>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${options.name}: not ready after ${options.readyTimeoutMs ?? 15_000} ms`)), options.readyTimeoutMs ?? 15_000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${options.name}: exited before it was ready (code ${String(code)}, signal ${String(signal)})`));
    });
    child.on('message', (message: unknown) => {
      if (isReady(message)) {
        clearTimeout(timer);
        resolve(message.urls);
      }
    });
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${options.name}: no pid`);
  return {
    name: options.name,
    process: child,
    pid,
    urls,
    stop: () => stopChild(child),
    profile: (message) => ask(child, options.name, message, isProfileReply),
    reload: async () => {
      const reply = await ask(child, options.name, { type: 'reload' }, isReloadReply);
      if (reply.error !== undefined) throw new Error(`${options.name}: config reload rejected: ${reply.error}`);
    },
  };
}

/** Sends a command and waits for the child's answer to it. */
function ask<T>(child: ChildProcess, name: string, message: { type: string }, isReply: (reply: unknown) => reply is T): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: no answer to ${message.type}`)), 30_000);
    const onMessage = (reply: unknown): void => {
      if (!isReply(reply)) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(reply);
    };
    child.on('message', onMessage);
    child.send(message);
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (child.connected) child.send({ type: 'stop' });
  else child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 8_000);
  await exited;
  clearTimeout(timer);
}

/** Resident set size of a process in bytes (Linux /proc; undefined elsewhere). */
export function rssBytes(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match?.[1] ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
