// One pino logger for the whole process. Secrets never reach it: values under
// env/secret-shaped keys are redacted, and callers log names, never values.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level = 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ['token', '*.token', 'password', '*.password', 'env[*].value', '*.env[*].value', 'data', '*.data', 'authorization', '*.authorization'],
        censor: '[redacted]',
      },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ fd: 2, sync: false }),
  );
}

/** A logger that drops everything, for tests and library callers. */
export const silentLogger: Logger = pino({ level: 'silent' });
