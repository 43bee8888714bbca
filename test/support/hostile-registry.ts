// A malicious upstream for the hostile-upstream tests (issue 9). It is a MemoryRegistry-shaped server on
// 127.0.0.1 whose answers come from one scenario: a function that gets every request first and either
// answers it (the attack) or returns false to let the honest registry behind it answer. Scenarios live
// one per file in test/support/hostile/, each named after the attack it mounts.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BaitServer } from './bait-server.ts';
import { MemoryRegistry, type MemoryRegistryOptions } from './memory-registry.ts';

export interface HostileContext {
  /** The hostile registry's own base URL (http://127.0.0.1:PORT). */
  url: string;
  /** The honest registry the scenario can draw real content from, and forward to. */
  honest: MemoryRegistry;
  bait: BaitServer;
}

/** Answers a request and returns true, or returns false to let the honest registry answer it. */
export type Scenario = (req: http.IncomingMessage, res: http.ServerResponse, context: HostileContext) => boolean | Promise<boolean>;

export class HostileRegistry {
  readonly honest: MemoryRegistry;
  /** Every request the hostile front received (method and path), for counting. */
  readonly requests: Array<{ method: string; path: string }> = [];
  private readonly scenario: Scenario;
  private readonly bait: BaitServer;
  private server: http.Server | undefined;
  private port = 0;

  constructor(scenario: Scenario, bait: BaitServer, honestOptions: MemoryRegistryOptions = {}) {
    this.scenario = scenario;
    this.bait = bait;
    this.honest = new MemoryRegistry(honestOptions);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    await this.honest.start();
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      this.server?.once('error', reject).listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      this.server = undefined;
    }
    await this.honest.stop();
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.requests.push({ method: req.method ?? '', path: req.url ?? '' });
    try {
      if (await this.scenario(req, res, { url: this.url, honest: this.honest, bait: this.bait })) return;
      await forward(req, res, this.honest.url);
    } catch {
      res.destroy();
    }
  }
}

/** Passes a request to the honest registry verbatim and its answer back. */
function forward(req: http.IncomingMessage, res: http.ServerResponse, base: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const upstream = http.request(`${base}${req.url ?? '/'}`, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res).on('finish', resolve).on('error', reject);
    });
    upstream.on('error', reject);
    req.pipe(upstream);
  });
}
