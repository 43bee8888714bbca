import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { startMirror, type TestMirror } from '../support/mirror.ts';

const mirrors: TestMirror[] = [];
after(async () => {
  for (const mirror of mirrors) await mirror.close();
});

const UPSTREAMS = {
  dockerhub: { url: 'https://registry-1.docker.io', aliases: ['docker.io'], defaultNamespace: 'library' },
  quay: { url: 'https://quay.io', aliases: ['quay.io'] },
};

async function mirror(trustProxy: boolean): Promise<TestMirror> {
  const started = await startMirror(UPSTREAMS, { extra: { trustProxy } });
  mirrors.push(started);
  return started;
}

const FORWARDED = { host: 'internal:5000', 'x-forwarded-host': 'cache.example.com', 'x-forwarded-proto': 'https' };

test('setup pages and scripts name the address the request came in on, ignoring X-Forwarded-* by default', async () => {
  const { app } = await mirror(false);
  for (const url of ['/setup/docker', '/setup/docker.sh', '/setup/containerd', '/setup/containerd.sh', '/setup/podman', '/setup/podman.sh']) {
    const response = await app.inject({ url, headers: FORWARDED });
    assert.equal(response.statusCode, 200, url);
    assert.match(response.body, /internal:5000/, url);
    assert.doesNotMatch(response.body, /cache\.example\.com/, url);
  }
  const docker = await app.inject({ url: '/setup/docker', headers: { host: 'internal:5000' } });
  assert.match(docker.headers['content-type'] as string, /text\/html/);
  assert.match(docker.body, /&#34;registry-mirrors&#34;: \[\s*&#34;http:\/\/internal:5000&#34;/);
  assert.match(docker.body, /curl -fsSL http:\/\/internal:5000\/setup\/docker\.sh \| sudo sh/);
});

test('with trustProxy, X-Forwarded-Host and -Proto give the public https address and no insecure-registries', async () => {
  const { app } = await mirror(true);
  const script = await app.inject({ url: '/setup/docker.sh', headers: FORWARDED });
  assert.match(script.body, /^MIRROR='https:\/\/cache\.example\.com'$/m);
  assert.match(script.body, /^INSECURE=''$/m);
  const podman = await app.inject({ url: '/setup/podman', headers: FORWARDED });
  assert.match(podman.body, /location = &#34;cache\.example\.com\/quay&#34;/);
  assert.doesNotMatch(podman.body, /insecure = true/);
});

test('registries.conf mirrors every upstream host through its upstream name', async () => {
  const { app } = await mirror(false);
  const script = await app.inject({ url: '/setup/podman.sh', headers: { host: 'cache.local:5000' } });
  for (const [host, upstream] of [['docker.io', 'dockerhub'], ['registry-1.docker.io', 'dockerhub'], ['quay.io', 'quay']]) {
    assert.match(script.body, new RegExp(`prefix = "${host}"\\nlocation = "${host}"\\n\\n\\[\\[registry\\.mirror\\]\\]\\nlocation = "cache\\.local:5000/${upstream}"\\ninsecure = true`), host);
  }
});

test('a Host header that is not a plain host[:port] is refused, so nothing odd reaches a script', async () => {
  const { app } = await mirror(false);
  const response = await app.inject({ url: '/setup/docker.sh', headers: { host: "evil';rm -rf /;'" } });
  assert.equal(response.statusCode, 400);
});
