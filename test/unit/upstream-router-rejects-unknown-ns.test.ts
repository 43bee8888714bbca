import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UpstreamRouter } from '../../src/routing.ts';
import { routingConfig } from './support/routing-config.ts';
import { assertRegistryError } from './support/registry-error-assert.ts';

test('an unknown ns is NAME_UNKNOWN, never the default upstream', () => {
  const router = new UpstreamRouter(routingConfig());
  assertRegistryError(() => router.route('library/ubuntu', { ns: 'evil.example.com' }), 'NAME_UNKNOWN');
});

test('an unknown ns never falls through to an alias in the name', () => {
  const router = new UpstreamRouter(routingConfig());
  assertRegistryError(() => router.route('ghcr.io/owner/img', { ns: 'registry.gitlab.com' }), 'NAME_UNKNOWN');
  assertRegistryError(() => router.route('docker.io/library/ubuntu', { ns: 'mcr.microsoft.com' }), 'NAME_UNKNOWN');
});

test('an ns that is a known host with another port is unknown', () => {
  const router = new UpstreamRouter(routingConfig());
  assertRegistryError(() => router.route('app', { ns: '127.0.0.1:5002' }), 'NAME_UNKNOWN');
  assert.equal(router.lookup('127.0.0.1'), undefined);
});
