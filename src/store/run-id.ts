import { randomBytes } from 'node:crypto';

/** `20261202-0130-a1b2c3`: sorts by creation time, readable, unique enough across machines (24 random bits per minute). */
export function newRunId(now: number): string {
  const stamp = new Date(now).toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 13);
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}
