import type { Config } from '../config.js';
import type { UserBudgets } from './budget.js';

/** Which cap refused a socket. */
export type Refusal = 'ip' | 'user' | 'unauthenticated';

/**
 * What one socket holds against the caps, from the upgrade request to the TCP socket's close. The
 * release runs on the TCP socket's 'close', which fires on every path: a refused or aborted
 * upgrade, a close handshake, a termination.
 */
export interface Reservation {
  ip: string;
  user: number | null;
  unauthenticated: boolean;
}

/**
 * The caps on sockets: per client address (IPv6 by /64), per user, and sockets not yet signed in
 * (server-wide, since an anonymous socket can come from anywhere). Counted per node.
 */
export class Admission {
  private readonly perIp = new Map<string, number>();
  private unauthenticated = 0;

  constructor(
    private readonly config: Pick<Config, 'maxSocketsPerIp' | 'maxSocketsPerUser' | 'maxUnauthenticatedSockets'>,
    private readonly users: UserBudgets,
  ) {}

  /** Reserve a socket for an address; null when the address is at its cap. */
  reserveIp(ip: string): Reservation | null {
    const count = this.perIp.get(ip) ?? 0;
    if (count >= this.config.maxSocketsPerIp) return null;
    this.perIp.set(ip, count + 1);
    return { ip, user: null, unauthenticated: false };
  }

  /** Count the socket as not signed in until `signedIn` or `release`. False when the server is at its cap. */
  reserveUnauthenticated(r: Reservation): boolean {
    if (r.unauthenticated) return true;
    if (this.unauthenticated >= this.config.maxUnauthenticatedSockets) return false;
    this.unauthenticated++;
    r.unauthenticated = true;
    return true;
  }

  /** The socket's token was accepted: it counts against its user now. False when the user is at the cap. */
  signedIn(r: Reservation, userId: number): boolean {
    this.leaveUnauthenticated(r);
    const state = this.users.get(userId);
    if (state.sockets >= this.config.maxSocketsPerUser) return false;
    state.sockets++;
    r.user = userId;
    return true;
  }

  release(r: Reservation): void {
    this.leaveUnauthenticated(r);
    if (r.user !== null) {
      const state = this.users.get(r.user);
      state.sockets = Math.max(0, state.sockets - 1);
      r.user = null;
    }
    if (r.ip === '') return;
    const count = (this.perIp.get(r.ip) ?? 1) - 1;
    if (count > 0) this.perIp.set(r.ip, count);
    else this.perIp.delete(r.ip);
    r.ip = '';
  }

  private leaveUnauthenticated(r: Reservation): void {
    if (!r.unauthenticated) return;
    r.unauthenticated = false;
    this.unauthenticated--;
  }
}
