/**
 * The options that turn the usual roles round, declared once because several transport kinds
 * take them: a sender that listens for its receivers (`send --listen`) and a receiver that
 * connects out to its sender (`recv --connect`). Kinds that share an option share this object.
 */
import { value } from '../options/schema.js';
import { parseHostPort, parsePort } from './address.js';

/** `send --listen PORT`: wait for receivers to connect instead of connecting to one. */
export const sendListenOption = value('--listen <port>', 'TCP: wait for receivers to connect on this port (IPv4 and IPv6)', (text) =>
  parsePort(text, { allowZero: true }),
);

/** `send --bind ADDR`, with `--listen`. */
export const sendBindOption = value('--bind <addr>', 'with --listen: on this address only (e.g. 127.0.0.1 or ::1)', (text) => text, { needs: '--listen' });

/** `recv --connect HOST:PORT`: connect to a sender that listens instead of listening. */
export const connectOption = value('--connect <host:port>', 'TCP: connect to a sender that listens (send --listen) instead of listening', parseHostPort);
