// Client setup: /setup/<client> shows copy-paste snippets and /setup/<client>.sh is the same as a script
// for `curl -fsSL .../setup/<client>.sh | sudo sh`. Both are built from the running config and the address
// the request came in on, so what a person copies points at the mirror they are looking at. Titles and
// example pulls follow the configured upstreams: Docker Hub and daemon.json's registry-mirrors are only
// spoken of when the mirror has a Docker Hub upstream (issue 12).

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type Html, html, page } from './html-page.ts';
import { type MirrorAddress, mirrorAddress } from './mirror-address.ts';
import { containerdScript, hostsFiles } from './setup/containerd-setup.ts';
import { dockerSetup } from './setup/docker-setup.ts';
import { defaultMirroredUpstream, type MirroredUpstream, mirroredUpstreams } from './setup/mirrored-hosts.ts';
import { DROP_IN_NAME, podmanScript, registriesConf } from './setup/podman-setup.ts';

export async function setupPages(app: FastifyInstance): Promise<void> {
  const upstreams = mirroredUpstreams(app.mirror.config);
  const fallback = defaultMirroredUpstream(app.mirror.config, upstreams);
  const hub = upstreams.find((u) => u.dockerHub);
  // dockerd sends registry-mirrors requests without an upstream in them: they reach the default upstream,
  // so registry-mirrors fits only when that is Docker Hub.
  const registryMirror = fallback.dockerHub;

  const sendPage = (title: string, address: MirrorAddress, body: Html): string =>
    page({ title: `${title} · pullthrough`, subtitle: `setup for ${address.host}`, body });
  const script = (request: FastifyRequest, text: (address: MirrorAddress) => string) =>
    text(mirrorAddress(request));

  app.get('/setup', async (_request, reply) => reply.redirect('/setup/docker'));

  app.get('/setup/docker.sh', async (request, reply) =>
    reply.type('text/x-shellscript; charset=utf-8').send(script(request, (a) => dockerSetup(a, registryMirror).script)));
  app.get('/setup/containerd.sh', async (request, reply) =>
    reply.type('text/x-shellscript; charset=utf-8').send(script(request, (a) => containerdScript(a, hostsFiles(a, upstreams)))));
  app.get('/setup/podman.sh', async (request, reply) =>
    reply.type('text/x-shellscript; charset=utf-8').send(script(request, (a) => podmanScript(a, registriesConf(a, upstreams)))));

  app.get('/setup/docker', async (request, reply) => {
    const address = mirrorAddress(request);
    const { daemonJson } = dockerSetup(address, registryMirror);
    const rewritten = html`<pre><code>${upstreams.map((u) => `docker pull ${rewrittenName(address, u)}\n`)}</code></pre>`;
    const body = registryMirror
      ? html`
<h2>Docker: pull Docker Hub images through this mirror</h2>
<p>dockerd uses <code>registry-mirrors</code> for Docker Hub images only (<code>docker pull alpine</code>); for other
registries, use rewritten names (below) or containerd's hosts files. If the mirror fails, dockerd quietly goes to
Docker Hub itself.</p>
${oneLiner(address, 'docker')}
<p>It merges into <code>/etc/docker/daemon.json</code> with python3, node or jq, keeps every other key and a backup,
and prints what it changed. Set <code>DOCKER_DAEMON_JSON</code> to write another file. Then restart dockerd.</p>
<h3>By hand</h3>
<p>Add to <code>/etc/docker/daemon.json</code> (merge with what is there), then <code>sudo systemctl restart docker</code>:</p>
<pre><code>${daemonJson}</code></pre>
${insecureNote(address)}
<h3>Check</h3>
<pre><code>docker info | grep -A1 'Registry Mirrors'
docker pull ${shortDockerHubName(fallback.example)}</code></pre>
<h3>Any registry, any client: rewritten names</h3>
${rewritten}
`
      : html`
<h2>Docker: pull ${registryNames(upstreams)} images through this mirror</h2>
<p>Name images through the mirror: <code>${address.host}/&lt;upstream&gt;/&lt;image&gt;</code>, for example
<code>${rewrittenName(address, fallback)}</code>. ${hub
        ? html`dockerd's <code>registry-mirrors</code> does not fit here: it sends Docker Hub names without an upstream in
them, and this mirror's default upstream is <code>${fallback.name}</code>, not Docker Hub.`
        : ''}
Images pulled this way keep the mirror's name; tag them if you want the original one.</p>
<h3>Pull</h3>
${rewritten}
${daemonJson
        ? html`<h3>Allow the plain-HTTP mirror (once)</h3>
<p>dockerd talks HTTPS to registries unless they are listed in <code>insecure-registries</code>.</p>
${oneLiner(address, 'docker')}
<p>It merges into <code>/etc/docker/daemon.json</code> with python3, node or jq, keeps every other key and a backup,
and prints what it changed. Or add this by hand (merge with what is there), then <code>sudo systemctl restart docker</code>:</p>
<pre><code>${daemonJson}</code></pre>
${insecureNote(address)}`
        : html`<p class="note">The mirror speaks HTTPS: dockerd needs no configuration for rewritten names.</p>`}
`;
    return reply.type('text/html; charset=utf-8').send(sendPage('Docker', address, body));
  });

  app.get('/setup/containerd', async (request, reply) => {
    const address = mirrorAddress(request);
    const files = hostsFiles(address, upstreams);
    return reply.type('text/html; charset=utf-8').send(sendPage('containerd', address, html`
<h2>containerd: Kubernetes nodes, nerdctl, BuildKit</h2>
<p>One <code>hosts.toml</code> per registry, for all ${files.length} registry hosts this mirror serves, so every
image is pulled through the mirror with no change of names. If the mirror fails, containerd falls back to the
registry named in <code>server</code>.</p>
${oneLiner(address, 'containerd')}
<p>It writes <code>/etc/containerd/certs.d/&lt;host&gt;/hosts.toml</code> (set <code>CONTAINERD_CERTS_D</code> for
another directory), keeps a backup of any file it did not write, and says what it changed.</p>
<h3>Point containerd at the directory (once)</h3>
<p>Kubernetes nodes (containerd 1.x CRI) in <code>/etc/containerd/config.toml</code>, then
<code>sudo systemctl restart containerd</code>:</p>
<pre><code>[plugins."io.containerd.grpc.v1.cri".registry]
  config_path = "/etc/containerd/certs.d"</code></pre>
<p>containerd 2.x: <code>[plugins."io.containerd.cri.v1.images".registry]</code>. nerdctl reads
<code>/etc/containerd/certs.d</code> by itself; <code>ctr</code> needs <code>--hosts-dir /etc/containerd/certs.d</code>.</p>
<h3>The files</h3>
${files.map((file) => html`<p><code>/etc/containerd/certs.d/${file.host}/hosts.toml</code></p><pre><code>${file.toml}</code></pre>`)}
${checkPull(fallback, (name) => `sudo crictl pull ${name}    # Kubernetes nodes\nsudo nerdctl pull ${name}`)}
`));
  });

  app.get('/setup/podman', async (request, reply) => {
    const address = mirrorAddress(request);
    const conf = registriesConf(address, upstreams);
    return reply.type('text/html; charset=utf-8').send(sendPage('Podman', address, html`
<h2>Podman, Buildah, CRI-O, skopeo</h2>
<p>A <code>registries.conf</code> drop-in with a mirror for every registry host this mirror serves.</p>
${oneLiner(address, 'podman')}
<p>It writes <code>/etc/containers/registries.conf.d/${DROP_IN_NAME}</code> (set <code>REGISTRIES_CONF_D</code> for
another directory). Entries there replace those with the same prefix in <code>/etc/containers/registries.conf</code>.</p>
<h3>By hand</h3>
<pre><code>${conf}</code></pre>
<p class="note">skopeo reads these files too (<code>--registries-conf FILE</code> for another one).</p>
${checkPull(fallback, (name) => `podman pull ${name}`)}
`));
  });
}

/** An image through the mirror's rewritten names: MIRROR/<upstream>/<repository>:<tag>. */
function rewrittenName(address: MirrorAddress, upstream: MirroredUpstream): string {
  return `${address.host}/${upstream.name}/${upstream.example}`;
}

/** docker.io/library/alpine:3.20 as people type it: alpine:3.20. */
function shortDockerHubName(example: string): string {
  return example.replace(/^library\//, '');
}

/** "ghcr.io and quay.io": the registries named on a page title, Docker Hub by that name. */
function registryNames(upstreams: readonly MirroredUpstream[]): string {
  const names = upstreams.map((u) => (u.dockerHub ? 'Docker Hub' : (u.hosts[0] ?? u.name)));
  return names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

/** A check with the default upstream's example image under its own registry's name, when it has one. */
function checkPull(upstream: MirroredUpstream, command: (name: string) => string): Html | string {
  const host = upstream.dockerHub && upstream.hosts.includes('docker.io') ? 'docker.io' : upstream.hosts[0];
  if (!host) return '';
  return html`<h3>Check</h3><pre><code>${command(`${host}/${upstream.example}`)}</code></pre>`;
}

function insecureNote(address: MirrorAddress): Html | string {
  return address.scheme === 'http'
    ? html`<p class="note">Plain HTTP needs <code>insecure-registries</code>. For other machines, put the mirror behind TLS. No CA to install: the mirror is a registry, not a proxy.</p>`
    : '';
}

function oneLiner(address: MirrorAddress, client: string): Html {
  return html`<h3>One command</h3><pre><code>curl -fsSL ${address.url}/setup/${client}.sh | sudo sh</code></pre>`;
}
