import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config.ts';

// The compose files users start from must at least parse and resolve (docker-compose v1's `config`).

const run = promisify(execFile);
// docker-compose.s3.yml refuses to resolve without the bucket's key pair (no default secret).
const S3_ENV = { ...process.env, S3_ACCESS_KEY: 'compose-test-key', S3_SECRET_KEY: 'compose-test-secret' };

for (const file of ['docker-compose.yml', 'docker-compose.replicas.yml', 'docker-compose.s3.yml']) {
  test(`${file} is a valid compose file`, async () => {
    const { stdout } = await run('docker-compose', ['-f', file, 'config'], { env: S3_ENV });
    assert.match(stdout, /pullthrough/);
    assert.match(stdout, /redis:/);
  });
}

test('the replicas file runs three replicas on one blob volume and one Redis, behind the load balancer', async () => {
  const { stdout } = await run('docker-compose', ['-f', 'docker-compose.replicas.yml', 'config', '--services']);
  assert.deepEqual(stdout.trim().split('\n').sort(), ['lb', 'pullthrough-1', 'pullthrough-2', 'pullthrough-3', 'redis']);
  const { stdout: resolved } = await run('docker-compose', ['-f', 'docker-compose.replicas.yml', 'config']);
  assert.equal(resolved.match(/PULLTHROUGH_REDIS_URL: redis:\/\/redis:6379/g)?.length, 3);
  assert.equal(resolved.match(/- pullthrough-blobs:\/var\/lib\/pullthrough/g)?.length, 3);
});

test('the offload file puts nginx with the shipped config in front, reading the mirror\'s volume read-only', async () => {
  const { stdout: resolved } = await run('docker-compose', ['-f', 'docker-compose.offload.yml', 'config']);
  type Mount = { source?: string; target?: string; read_only?: boolean };
  type Service = { ports?: unknown[]; volumes?: Array<string | Mount>; environment?: Record<string, string> };
  const config = parse(resolved) as { services: Record<string, Service> };
  assert.deepEqual(Object.keys(config.services).sort(), ['front', 'pullthrough']);
  const pullthrough = config.services.pullthrough as Service;
  const front = config.services.front as Service;
  assert.equal(pullthrough.ports, undefined, 'the mirror is reached through nginx only');
  const mounts: Mount[] = (front.volumes ?? []).map((v) => (typeof v === 'string' ? { source: v.split(':')[0], target: v.split(':')[1], read_only: v.endsWith(':ro') } : v));
  const shown = JSON.stringify(mounts);
  assert.ok(mounts.some((v) => v.target === '/etc/nginx/conf.d/default.conf' && v.source?.endsWith('config/nginx-offload.conf') && v.read_only), shown);
  // nginx's alias in the shipped config is the image's storage.path, mounted read-only.
  assert.ok(mounts.some((v) => v.target === '/var/lib/pullthrough' && v.read_only), shown);
  const loaded = loadConfig('config/default.yaml', pullthrough.environment ?? {});
  assert.equal(loaded.serve.offload, true);
  assert.equal(loaded.trustProxy, true);
  assert.equal(loaded.serve.offloadLocation, '/_pullthrough/blobs/');
});

test('the S3 file runs three replicas with no shared directory, one Redis and MinIO behind the load balancer; its config loads', async () => {
  const file = 'docker-compose.s3.yml';
  const { stdout } = await run('docker-compose', ['-f', file, 'config', '--services'], { env: S3_ENV });
  assert.deepEqual(stdout.trim().split('\n').sort(), ['lb', 'minio', 'minio-bucket', 'pullthrough-1', 'pullthrough-2', 'pullthrough-3', 'redis']);
  const { stdout: resolved } = await run('docker-compose', ['-f', file, 'config'], { env: S3_ENV });
  const config = parse(resolved) as { services: Record<string, { image?: string; volumes?: Array<string | { type?: string; source?: string; target: string }>; environment?: Record<string, string> }> };
  assert.equal(config.services.minio?.image?.split(':')[0], 'minio/minio');
  for (const name of ['pullthrough-1', 'pullthrough-2', 'pullthrough-3']) {
    const service = config.services[name];
    assert.ok(service);
    assert.equal(service.environment?.PULLTHROUGH_REDIS_URL, 'redis://redis:6379');
    assert.equal(service.environment?.S3_SECRET_KEY, 'compose-test-secret');
    // Only the read-only config and an anonymous scratch volume: no named volume shared by the replicas.
    for (const volume of service.volumes ?? []) {
      const source = typeof volume === 'string' ? volume.split(':')[0] : volume.source;
      assert.ok(source === undefined || source === '' || source.startsWith('/') || source === '/var/lib/pullthrough', `${name} mounts ${JSON.stringify(volume)}`);
      if (typeof volume !== 'string' && volume.type === 'volume') assert.equal(volume.source, undefined, `${name} shares a named volume`);
    }
  }
  // The config the replicas run with loads and keeps blobs in the bucket the compose file creates.
  const loaded = loadConfig('config/s3-replicas.yaml', { PULLTHROUGH_REDIS_URL: 'redis://redis:6379', S3_ACCESS_KEY: 'k', S3_SECRET_KEY: 's' });
  assert.equal(loaded.storage.s3?.endpoint, 'http://minio:9000');
  assert.equal(loaded.storage.s3?.bucket, 'pullthrough');
  assert.match(resolved, /mc mb --ignore-existing local\/pullthrough/);
});
