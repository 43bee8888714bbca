// The S3 client for storage.s3 (issue 10). Secrets come from environment variables or files named in the
// config, never from the config itself; with neither, the AWS SDK's default chain (AWS_ACCESS_KEY_ID,
// shared config, an instance or pod role). Checksums only WHEN_REQUIRED: with the SDK's default a streamed
// upload is sent aws-chunked with a trailing checksum, which Ceph RGW refuses (411) and simpler S3
// servers store as the object's bytes (DESIGN.md, "S3 on these machines").

import { readFileSync } from 'node:fs';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { Config } from '../config.ts';

export type S3StorageConfig = NonNullable<Config['storage']['s3']>;

/** Connecting takes at most this long; a request with no byte moving for requestTimeout fails. */
const CONNECT_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 60_000;

/** The access key pair the config names; undefined = the SDK's default chain. Throws naming what is missing. */
export function s3Credentials(s3: S3StorageConfig, env: NodeJS.ProcessEnv = process.env): { accessKeyId: string; secretAccessKey: string } | undefined {
  const read = (envKey: string | undefined, fileKey: string | undefined, what: string): string | undefined => {
    if (envKey !== undefined) {
      const value = env[envKey];
      if (value === undefined || value === '') throw new Error(`storage.s3.${what}Env: environment variable ${envKey} is not set`);
      return value;
    }
    if (fileKey !== undefined) {
      try {
        return readFileSync(fileKey, 'utf8').trim();
      } catch (error) {
        throw new Error(`storage.s3.${what}File: cannot read ${fileKey} (${(error as NodeJS.ErrnoException).code})`);
      }
    }
    return undefined;
  };
  const accessKeyId = read(s3.accessKeyEnv, s3.accessKeyFile, 'accessKey');
  const secretAccessKey = read(s3.secretKeyEnv, s3.secretKeyFile, 'secretKey');
  return accessKeyId !== undefined && secretAccessKey !== undefined ? { accessKeyId, secretAccessKey } : undefined;
}

export function s3ClientConfig(s3: S3StorageConfig, endpoint = s3.endpoint, env: NodeJS.ProcessEnv = process.env): S3ClientConfig {
  const credentials = s3Credentials(s3, env);
  return {
    region: s3.region,
    ...(endpoint !== undefined && { endpoint }),
    forcePathStyle: s3.forcePathStyle,
    ...(credentials && { credentials }),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { connectionTimeout: CONNECT_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS },
  };
}

export function s3ClientFromConfig(s3: S3StorageConfig, env: NodeJS.ProcessEnv = process.env): S3Client {
  return new S3Client(s3ClientConfig(s3, s3.endpoint, env));
}
