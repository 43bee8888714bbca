// A process that starts one S3 store write and never finishes it, for the kill -9 test (issue 10): it
// writes `bytes` random bytes (several multipart parts reach S3), prints "written <id>" and waits to be
// SIGKILLed. Configured by env: S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_BUCKET, S3_PREFIX,
// SCRATCH_DIR, WRITE_BYTES.

import { randomBytes } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import { S3BlobStore } from '../../../src/storage/s3-blob-store.ts';

const env = process.env as Record<string, string>;
const client = new S3Client({
  endpoint: env.S3_ENDPOINT,
  region: 'us-east-1',
  credentials: { accessKeyId: env.S3_ACCESS_KEY as string, secretAccessKey: env.S3_SECRET_KEY as string },
  forcePathStyle: true,
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
});
const store = await S3BlobStore.open({ client, bucket: env.S3_BUCKET as string, prefix: env.S3_PREFIX, scratchDir: env.SCRATCH_DIR as string });
const writer = await store.create('sha256');
const total = Number(env.WRITE_BYTES);
for (let at = 0; at < total; at += 1024 * 1024) await writer.write(randomBytes(Math.min(1024 * 1024, total - at)));
// Writes return once the body buffer took them; the parts uploaded so far are what a crash leaves.
await new Promise((resolve) => setTimeout(resolve, 1500));
process.stdout.write(`written ${writer.id}\n`);
setInterval(() => undefined, 60_000);
