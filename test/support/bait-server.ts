// A "bait" server for hostile-upstream tests: an internal host a malicious upstream would like the mirror
// to reach (a redirect target, a token realm elsewhere). It records every request it gets, with the
// Authorization header, and answers whatever the test sets. It listens on 127.0.0.2 so it is a different
// host from the upstreams (127.0.0.1) as far as the mirror's host checks go, while staying on loopback.

import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface BaitHit {
  method: string;
  path: string;
  host: string | undefined;
  authorization: string | undefined;
}

export class BaitServer {
  readonly hits: BaitHit[] = [];
  /** What the bait answers; defaults to a 200 with a body no mirror should ever serve. */
  answer: (req: http.IncomingMessage, res: http.ServerResponse) => void = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' }).end(BAIT_BODY);
  };
  private server: http.Server | undefined;
  private port = 0;

  get host(): string {
    return `127.0.0.2:${this.port}`;
  }

  get url(): string {
    return `http://${this.host}`;
  }

  /** Hits that carried any Authorization header: credentials that leaked. */
  get hitsWithCredentials(): BaitHit[] {
    return this.hits.filter((hit) => hit.authorization !== undefined);
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      this.hits.push({ method: req.method ?? '', path: req.url ?? '', host: req.headers.host, authorization: req.headers.authorization });
      this.answer(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      this.server?.once('error', reject).listen(0, '127.0.0.2', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    this.server = undefined;
  }
}

/** The body the bait serves: a test asserts no client of the mirror ever receives it. */
export const BAIT_BODY = '<html><script>alert("bait")</script></html>';
