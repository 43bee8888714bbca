// TLS session-ticket keys that change on a schedule (tls.ticketKeyRotation). A ticket key encrypts the
// session secrets a client hands back to resume: whoever records the traffic and later reads the key (a
// memory dump, a core file, a snapshot of the host) can decrypt every session resumed under it. Node keeps
// one random key for the whole life of the process, as nginx does without ssl_session_ticket_key, so one
// read exposes months of traffic. Here each key is replaced, at fixed instants, by a one-way step from the
// one before (HMAC), and the old one is wiped: a key read later says nothing about earlier sessions.
//
// Workers of one host (src/workers/primary.ts) must share the key in force, so a reconnect resumes on
// whichever worker it reaches: the primary hands each worker its current key and the instant of the next
// step, and every process steps on its own at the same instants. Tickets issued just before a step are not
// accepted after it (a full handshake, once per client per period); Node's tickets live 5 minutes anyway.
// node:cluster has a sharing of its own, which would undo this: the first worker to listen sends its key
// to the primary, which keeps it for as long as the port is open and installs it in every worker that
// listens later (a restarted one) — a key never replaced, from which every later one can be computed.
// Servers driven here take no part in it (see drive).

import { createHmac, randomBytes } from 'node:crypto';

/** Node's ticketKeys: 16 bytes of key name, 16 of HMAC secret, 16 of AES key. SHA-384 makes exactly 48. */
export const TICKET_KEY_BYTES = 48;

/** What a server needs to keep the keys current: the key in force and when it is replaced. */
export interface TicketKeyState {
  key: Buffer;
  /** Epoch milliseconds of the next step. */
  rotatesAt: number;
}

/** Anything that takes new ticket keys (a tls.Server, an https.Server). */
interface TicketKeyHolder {
  setTicketKeys(keys: Buffer): void;
}

/**
 * node:cluster's hooks on a TLS server (lib/_tls_wrap.js): what a worker sends the primary when it listens,
 * and what it installs from the primary's answer — the ticket keys.
 */
interface ClusterSharedData {
  _getServerData?: () => unknown;
  _setServerData?: (data: unknown) => void;
}

export class TicketKeyRatchet {
  private key: Buffer;
  private rotatesAt: number;
  private readonly periodMs: number;

  constructor(state: TicketKeyState, periodMs: number) {
    if (state.key.length !== TICKET_KEY_BYTES) throw new Error(`a TLS ticket key is ${TICKET_KEY_BYTES} bytes`);
    // Our own copy, so wiping it never touches a buffer someone else still reads.
    this.key = Buffer.from(state.key);
    this.rotatesAt = state.rotatesAt;
    this.periodMs = periodMs;
  }

  /** A random key, first replaced one period from now. */
  static fresh(periodMs: number, now = Date.now()): TicketKeyRatchet {
    return new TicketKeyRatchet({ key: randomBytes(TICKET_KEY_BYTES), rotatesAt: now + periodMs }, periodMs);
  }

  /** The key in force at `now`: every step due by then is taken, and the keys before are wiped. */
  at(now = Date.now()): TicketKeyState {
    while (now >= this.rotatesAt) {
      const next = createHmac('sha384', this.key).update('pullthrough TLS ticket key step').digest();
      this.key.fill(0);
      this.key = next;
      this.rotatesAt += this.periodMs;
    }
    return { key: this.key, rotatesAt: this.rotatesAt };
  }

  /** Gives `server` the key in force now and each next one at its instant; returns what stops that. */
  drive(server: TicketKeyHolder): () => void {
    // Out of node:cluster's sharing: nothing of the key goes to the primary, nothing from it is installed.
    const clusterHooks = server as TicketKeyHolder & ClusterSharedData;
    clusterHooks._getServerData = () => null;
    clusterHooks._setServerData = () => undefined;
    // Node copies the key into the TLS context: ours can be wiped at the next step.
    return this.onEachKey((key) => server.setTicketKeys(key));
  }

  /** Takes each step at its instant with no server to give the key to (a primary): no replaced key lingers. */
  stepOnSchedule(): () => void {
    return this.onEachKey(() => undefined);
  }

  private onEachKey(use: (key: Buffer) => void): () => void {
    let timer: NodeJS.Timeout | undefined;
    let given: Buffer | undefined;
    const apply = (): void => {
      const { key, rotatesAt } = this.at();
      // A timer may fire a millisecond before its instant by Date.now(): then the key has not stepped yet,
      // and it is not handed over a second time; the next try comes at the instant.
      if (key !== given) use(key);
      given = key;
      timer = setTimeout(apply, Math.max(0, rotatesAt - Date.now()));
      timer.unref();
    };
    apply();
    return () => clearTimeout(timer);
  }
}
