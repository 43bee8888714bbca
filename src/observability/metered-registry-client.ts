// A RegistryClient that also reports what only the caller of send() can see: the bytes a successful
// GET brings in, and requests that never got an answer (the client's onResponse only sees responses).
// A subclass rather than a change to the upstream client, which stays free of metrics concerns.

import { RegistryError } from '../errors.ts';
import { RegistryClient, type UpstreamAnswer, type UpstreamRequest, type UpstreamResponse } from '../upstream/registry-client.ts';
import type { RingBody } from '../upstream/ring-body.ts';
import { firstHeader } from '../upstream/rate-limit.ts';
import type { MirrorMetrics } from './mirror-metrics.ts';

export class MeteredRegistryClient extends RegistryClient {
  private metrics: MirrorMetrics | undefined;

  meter(metrics: MirrorMetrics): this {
    this.metrics = metrics;
    return this;
  }

  override async send(req: UpstreamRequest): Promise<UpstreamResponse> {
    const response = await this.observe(req.signal, () => super.send(req));
    if (req.method === 'GET' && (response.status === 200 || response.status === 206)) {
      // Counted once the body has ended whole (undici fails a body that ends short of its Content-Length),
      // never at the headers: an announced size is a claim (issue 9), and a refused or cut body was not fetched.
      const length = Number(firstHeader(response.headers['content-length']));
      if (Number.isSafeInteger(length)) response.body.once('end', () => this.metrics?.upstreamFetched(this.upstream.name, length));
    }
    return response;
  }

  override async getBlob(req: Omit<UpstreamRequest, 'method'>): Promise<UpstreamAnswer<RingBody>> {
    const response = await this.observe(req.signal, () => super.getBlob(req));
    const length = Number(firstHeader(response.headers['content-length']));
    // As for send(): counted once the body has ended whole.
    if (response.status === 200 && Number.isSafeInteger(length)) {
      response.body.whole.then(() => this.metrics?.upstreamFetched(this.upstream.name, length), () => undefined);
    }
    return response;
  }

  override authorizationHeader(repository: string): Promise<string | undefined> {
    return this.observe(undefined, () => super.authorizationHeader(repository));
  }

  private async observe<T>(signal: AbortSignal | undefined, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      // Only failures to get any answer count here: errors made from an answer (a refused token, too many
      // redirects) were counted from the response, and a caller's own abort (a client gone, a fill's time
      // limit) says nothing about the upstream. The client wraps network failures with their cause.
      const noAnswer = !(error instanceof RegistryError) || error.cause !== undefined;
      if (noAnswer && !signal?.aborted) this.metrics?.upstreamUnreachable(this.upstream.name, error);
      throw error;
    }
  }
}
