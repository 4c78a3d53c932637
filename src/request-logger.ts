/**
 * Fastify gives every request a child logger bound to its request id. pino builds a child
 * eagerly — a new object and its bindings serialised to JSON — a few microseconds on every
 * request, most of which never log a line at the configured level (in a profile of the
 * cached vend it was about 6% of the server's time). The factory below hands out a stand-in
 * that builds the real child the first time a line at an enabled level is written, so the
 * lines are exactly what the eager child would have written, and a request that logs
 * nothing builds nothing.
 */
import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify';

type Factory = NonNullable<FastifyServerOptions['childLoggerFactory']>;
type Bindings = Parameters<Factory>[1];
type ChildLoggerOptions = Parameters<Factory>[2];
type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
type LogMethod = (...args: unknown[]) => void;

/** pino's loggers, which Fastify builds from keyvend's logger options, can say this. */
interface LevelAwareLogger extends FastifyBaseLogger {
  isLevelEnabled(level: string): boolean;
}

function isLevelAware(logger: FastifyBaseLogger): logger is LevelAwareLogger {
  return typeof (logger as Partial<LevelAwareLogger>).isLevelEnabled === 'function';
}

class DeferredChild {
  readonly #parent: LevelAwareLogger;
  readonly #bindings: Bindings;
  readonly #options: ChildLoggerOptions;
  #child: LevelAwareLogger | undefined;

  constructor(parent: LevelAwareLogger, bindings: Bindings, options: ChildLoggerOptions) {
    this.#parent = parent;
    this.#bindings = bindings;
    this.#options = options;
  }

  get #real(): LevelAwareLogger {
    this.#child ??= this.#parent.child(this.#bindings, this.#options) as LevelAwareLogger;
    return this.#child;
  }

  #write(level: Level, args: unknown[]): void {
    if (this.#child === undefined && !this.#parent.isLevelEnabled(level)) return;
    (this.#real[level] as LogMethod)(...args);
  }

  get level(): string {
    return this.#child?.level ?? this.#parent.level;
  }

  set level(level: string) {
    this.#real.level = level;
  }

  fatal(...args: unknown[]): void {
    this.#write('fatal', args);
  }
  error(...args: unknown[]): void {
    this.#write('error', args);
  }
  warn(...args: unknown[]): void {
    this.#write('warn', args);
  }
  info(...args: unknown[]): void {
    this.#write('info', args);
  }
  debug(...args: unknown[]): void {
    this.#write('debug', args);
  }
  trace(...args: unknown[]): void {
    this.#write('trace', args);
  }
  silent(): void {}

  isLevelEnabled(level: string): boolean {
    return (this.#child ?? this.#parent).isLevelEnabled(level);
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#real.child(bindings, options);
  }
}

/** Fastify's `childLoggerFactory`, building each request's child logger on first use. */
export const deferredChildLogger: Factory = (logger, bindings, options) => {
  // A route-level level or serializers change what is enabled: build the child at once.
  if (!isLevelAware(logger) || options.level !== undefined || options.serializers !== undefined) {
    return logger.child(bindings, options);
  }
  return new DeferredChild(logger, bindings, options) as unknown as FastifyBaseLogger;
};
