// Which blob store the config asks for, made once here for the server and the CLI: the one place that
// hands `storage.path` to a store (issue 10). The filesystem store keeps blobs under it; with storage.s3
// the S3 store keeps them in the bucket and uses storage.path as its local scratch dir. The AWS SDK is
// loaded only for an S3 store: a filesystem store's process never needs it (~8 MiB of resident memory).

import type { Config } from '../config.ts';
import { ConfigError } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { BlobStore } from './blob-store.ts';
import { FilesystemBlobStore } from './filesystem-blob-store.ts';
import type { S3BlobStore } from './s3-blob-store.ts';
import { registerBlobRedirector } from './blob-redirect.ts';
import { registerBlobOffloader } from './blob-offload.ts';

/**
 * The store a server uses. With `sharedWithReplicas` (Redis configured: other replicas may use the same
 * store) start-up leaves recent writes in flight alone, since they may be other replicas' fills. An S3
 * store is checked first (HeadBucket): a missing bucket, refused credentials or an unreachable endpoint
 * stop the start with one clear ConfigError.
 */
export async function openBlobStore(config: Config, options: { sharedWithReplicas?: boolean; log?: Logger } = {}): Promise<BlobStore> {
  if (!config.storage.s3) {
    const store = await FilesystemBlobStore.open(config.storage.path, options);
    // Kept-blob GETs handed to nginx with X-Accel-Redirect (serveBlob), when asked for.
    if (config.serve.offload) registerBlobOffloader(config, store);
    return store;
  }
  const store = await openS3(config, options.log, false);
  // Kept-blob GETs answered with a 307 to a presigned URL (serveBlob), when asked for.
  if (config.storage.s3.redirect) registerBlobRedirector(config, store);
  return store;
}

/** The store of a running mirror, for another process (the CLI's gc and verify): touches no write in flight. */
export async function attachBlobStore(config: Config): Promise<BlobStore> {
  if (config.storage.s3) return openS3(config, undefined, true);
  return FilesystemBlobStore.attach(config.storage.path);
}

async function openS3(config: Config, log: Logger | undefined, attach: boolean): Promise<S3BlobStore> {
  const s3 = config.storage.s3 as NonNullable<Config['storage']['s3']>;
  const [{ S3BlobStore }, { s3ClientConfig, s3ClientFromConfig }, { S3Client }] = await Promise.all([
    import('./s3-blob-store.ts'),
    import('./s3-client.ts'),
    import('@aws-sdk/client-s3'),
  ]);
  let client;
  let presignClient;
  try {
    client = s3ClientFromConfig(s3);
    if (s3.redirect && s3.publicEndpoint !== undefined) presignClient = new S3Client(s3ClientConfig(s3, s3.publicEndpoint));
  } catch (error) {
    throw new ConfigError('storage.s3', [(error as Error).message]);
  }
  try {
    return await S3BlobStore.open(
      { client, bucket: s3.bucket, prefix: s3.prefix, scratchDir: config.storage.path, endpoint: s3.endpoint ?? 'AWS S3', ...(log && { log }), ...(presignClient && { presignClient }) },
      { attach },
    );
  } catch (error) {
    client.destroy();
    presignClient?.destroy();
    if ((error as NodeJS.ErrnoException).code?.startsWith('S3_')) throw new ConfigError('storage.s3', [(error as Error).message]);
    throw error;
  }
}
