// A real S3 server for tests (issue 10): a throwaway single-node Ceph cluster — one monitor, one OSD on
// memstore (data in RAM, empty at each start), one RADOS Gateway — on 127.0.0.1, everything under one temp
// dir, no vstart.sh. DESIGN.md "S3 on these machines" has the recipe; this is it, made repeatable.
//
// Nothing here reads or writes /etc/ceph, /var/lib/ceph, /var/run/ceph or /var/log/ceph: every tool gets
// `-c <our ceph.conf>` (and CEPH_CONF points there too), and the conf moves run dirs, admin sockets, logs,
// keyrings and data into the temp dir. The daemons run in the foreground (`-f`), so the PIDs we hold are
// the daemons themselves; stop() SIGKILLs exactly those (SIGTERM would make memstore write every object it
// holds to disk before exiting — slow, and pointless for a throwaway cluster). A test process that dies
// without calling stop() still kills them on exit (tracked-process.ts).

import { randomUUID } from 'node:crypto';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { freePort } from '../e2e/support/free-port.ts';
import { runChecked } from '../e2e/support/run-command.ts';
import { makeTempDir, removeTempDir } from '../e2e/support/temp-dir.ts';
import { spawnTracked, type TrackedProcess } from '../e2e/support/tracked-process.ts';
import { waitFor } from '../e2e/support/wait-for.ts';

export interface Rgw {
  /** `http://127.0.0.1:<port>`: path-style S3 (no DNS names for buckets here). */
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** RGW accepts any SigV4 region; CreateBucket must then send no LocationConstraint (the SDK's us-east-1 default). */
  region: string;
  /** Wall time from the first command to a working S3 user, in ms. */
  startMs: number;
  /** The temp dir with ceph.conf and the daemons' logs (`log/<name>.log`), for a failing test's message. */
  dir: string;
  /** The last lines of the RGW log (or another daemon's: `mon.a`, `osd.0`). */
  tail(name?: string, lines?: number): Promise<string>;
  /** The daemons' PIDs (`mon.a`, `osd.0`, `client.rgw.x`), e.g. to read their RSS. */
  pids(): Record<string, number>;
  /** Kills only radosgw (SIGKILL): S3 is gone, the stored objects stay in the OSD. For fault tests. */
  stopGateway(): Promise<void>;
  /** Starts radosgw again on the same port and waits until S3 answers; the objects are still there. */
  startGateway(): Promise<void>;
  /** Kills the three daemons by PID and removes the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartRgwOptions {
  /** Upper bound for the whole start (default 45 s); it takes 2–3 s on an idle 2-core machine. */
  timeoutMs?: number;
  /** memstore's capacity (RAM is used only for what is stored). */
  memstoreBytes?: string;
}

/** The Debian packages this needs; the message for a machine without them names them. */
export const RGW_PACKAGES = ['ceph-mon', 'ceph-osd', 'ceph-common', 'radosgw'] as const;

const RGW_NAME = 'client.rgw.x';

function cephConf(dir: string, fsid: string, monPort: number, rgwPort: number, memstoreBytes: string): string {
  return `[global]
fsid = ${fsid}
mon host = v1:127.0.0.1:${monPort}
public addr = 127.0.0.1
ms bind msgr2 = false
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
# An OSD that sets its own CRUSH location and device class at boot races its monitor client: now and then
# the command leaves before the monitor map has arrived, carries a zero fsid, is refused ("wrong fsid") and
# the OSD exits. startRgw() puts osd.0 into the CRUSH map itself instead.
osd crush update on start = false
osd class update on start = false
# A development disk may be fuller than the monitor's defaults allow (warn under 30 % free, stop under 5 %).
mon data avail warn = 1
mon data avail crit = 0
run dir = ${dir}/run
admin socket = ${dir}/run/$name.$pid.asok
pid file = ${dir}/run/$name.pid
log file = ${dir}/log/$name.log
mon cluster log file = ${dir}/log/$cluster.$channel.log
crash dir = ${dir}/crash
keyring = ${dir}/keyring
mon data = ${dir}/mon/$name
osd data = ${dir}/osd/$name
# Every OSD-map change (RGW creates six pools, one after another) waits for the next Paxos proposal, by
# default up to 1 s apart; a one-monitor cluster has no one to batch for.
paxos propose interval = 0.05
# Two cores: fewer threads than the production defaults.
ms async op threads = 1
osd op num shards = 2
osd op num threads per shard = 1

[osd.0]
osd objectstore = memstore
memstore device bytes = ${memstoreBytes}

[${RGW_NAME}]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort}
rgw data = ${dir}/rgw
rgw thread pool size = 16
# Deleted objects' data is reclaimed by RGW's garbage collector, by default after 2 h; memstore holds it in
# RAM until then, so a test that writes and deletes a lot would only grow.
rgw gc obj min wait = 30
rgw gc processor period = 30
rgw enable usage log = false
# With its metadata cache on, RGW notifies every watcher of a change (a new bucket, user) and waits for
# each; a gateway killed by a fault test stays a watcher for 30 s, so the next CreateBucket took ~29 s.
# One gateway needs no cache coherence, and memstore reads are cheap.
rgw cache enabled = false
`;
}

/** Starts a fresh cluster and an S3 user; rejects (having stopped what it started) if it does not come up. */
export async function startRgw(options: StartRgwOptions = {}): Promise<Rgw> {
  const started = Date.now();
  const timeoutMs = options.timeoutMs ?? 45_000;
  const dir = await makeTempDir('rgw');
  const conf = path.join(dir, 'ceph.conf');
  const env = { ...process.env, CEPH_CONF: conf };
  const daemons = new Map<string, TrackedProcess>();

  const tail = async (name = RGW_NAME, lines = 40): Promise<string> => {
    const text = await readFile(path.join(dir, 'log', `${name}.log`), 'utf8').catch(() => '');
    const out = await readFile(path.join(dir, 'log', `${name}.out`), 'utf8').catch(() => '');
    // Ceph logs dump long blank-line runs (rocksdb stats); keep the lines that say something.
    const said = `${text}\n${out}`.split('\n').filter((l) => l.trim() !== '');
    return said.slice(-lines).join('\n');
  };
  let stopped = false;
  const kill = async (): Promise<void> => {
    await Promise.all(
      [...daemons.values()].map(async (d) => {
        if (d.isRunning()) d.child.kill('SIGKILL');
        await d.exited;
      }),
    );
  };
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await kill();
    await removeTempDir(dir);
  };
  const daemon = async (name: string, command: string, args: string[]): Promise<void> => {
    daemons.set(name, await spawnTracked(command, ['-c', conf, ...args, '-f'], { env, logFile: path.join(dir, 'log', `${name}.out`) }));
  };
  const died = (): string | undefined => {
    for (const [name, d] of daemons) {
      if (!d.isRunning()) return `${name} exited during start`;
    }
    return undefined;
  };
  const step = async (what: string, command: string, args: string[], timeout = 30_000): Promise<string> => {
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          return (await runChecked(command, ['-c', conf, ...args], { env, timeoutMs: timeout })).stdout;
        } catch (e) {
          // A monitor just started may refuse a client before it has its command table ("problem getting
          // command descriptions", seen in a CI run): nothing was done, so asking again is safe.
          if (attempt >= 10 || !/problem getting command descriptions/.test((e as Error).message)) throw e;
          await new Promise((resolve) => setTimeout(resolve, 300));
        }
      }
    } catch (e) {
      const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
      throw new Error(
        missing
          ? `${command} not found: install the Debian packages ${RGW_PACKAGES.join(' ')} (test/setup/prerequisites.sh)`
          : `ceph-rgw: ${what} failed: ${(e as Error).message}`,
      );
    }
  };

  try {
    const [monPort, rgwPort] = await twoFreePorts();
    const fsid = randomUUID();
    await Promise.all(['run', 'log', 'crash', 'mon/mon.a', 'osd/osd.0', 'rgw'].map((d) => mkdir(path.join(dir, d), { recursive: true })));
    await writeFile(conf, cephConf(dir, fsid, monPort, rgwPort, options.memstoreBytes ?? '2G'));

    // The monitor: a keyring (required by mkfs even with auth off), a monmap naming a v1-only address
    // (monmaptool's plain --add would record a v2 address for a non-default port), its store.
    const keyring = path.join(dir, 'keyring');
    const monmap = path.join(dir, 'monmap');
    await step('ceph-authtool', 'ceph-authtool', ['--create-keyring', keyring, '--gen-key', '-n', 'mon.']);
    await step('monmaptool', 'monmaptool', ['--create', '--addv', 'a', `[v1:127.0.0.1:${monPort}]`, '--fsid', fsid, monmap]);
    await step('ceph-mon --mkfs', 'ceph-mon', ['--mkfs', '-i', 'a', '--monmap', monmap, '--keyring', keyring]);
    await daemon('mon.a', 'ceph-mon', ['-i', 'a']);

    // osd.0 must exist in the OSD map before it can boot; `ceph osd create` prints its id.
    const id = (await step('ceph osd create', 'ceph', ['--connect-timeout', '20', 'osd', 'create'])).trim();
    if (id !== '0') throw new Error(`ceph-rgw: ceph osd create gave id ${JSON.stringify(id)}, expected 0`);
    await Promise.all([
      step('ceph osd crush add', 'ceph', ['--connect-timeout', '20', 'osd', 'crush', 'add', 'osd.0', '1', 'root=default']),
      step('ceph-osd --mkfs', 'ceph-osd', ['-i', '0', '--mkfs']),
    ]);
    await daemon('osd.0', 'ceph-osd', ['-i', '0']);
    // RGW waits for the OSD by itself, then creates its pools and the default zone (most of the start time).
    await daemon(RGW_NAME, 'radosgw', ['-n', RGW_NAME]);

    const endpoint = `http://127.0.0.1:${rgwPort}`;
    const answering = (within: number): Promise<unknown> =>
      waitFor(
        'RADOS Gateway answering S3',
        async () => {
          const res = await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(2000) });
          await res.arrayBuffer();
          return res.status === 200 ? true : undefined;
        },
        { timeoutMs: Math.max(1000, within), intervalMs: 250, abortIf: died },
      ).catch(async (e: Error) => {
        const dead = [...daemons].find(([, d]) => !d.isRunning());
        const name = dead?.[0] ?? RGW_NAME;
        throw new Error(`${e.message}\n--- last lines of ${name}'s log (${dir}/log) ---\n${await tail(name)}`);
      });
    await answering(timeoutMs - (Date.now() - started));

    const accessKeyId = `PT${randomUUID().replace(/-/g, '').slice(0, 18).toUpperCase()}`;
    const secretAccessKey = randomUUID().replace(/-/g, '') + randomUUID().replace(/-/g, '');
    await step('radosgw-admin user create', 'radosgw-admin', [
      'user', 'create', '--uid', 'pullthrough-test', '--display-name', 'pullthrough test',
      '--access-key', accessKeyId, '--secret', secretAccessKey,
    ]);

    const gateway = (): TrackedProcess | undefined => daemons.get(RGW_NAME);
    return {
      endpoint,
      accessKeyId,
      secretAccessKey,
      region: 'us-east-1',
      startMs: Date.now() - started,
      dir,
      tail,
      pids: () => Object.fromEntries([...daemons].filter(([, d]) => d.isRunning()).map(([name, d]) => [name, d.pid])),
      async stopGateway() {
        const d = gateway();
        if (d?.isRunning()) d.child.kill('SIGKILL');
        await d?.exited;
      },
      async startGateway() {
        if (stopped) throw new Error('ceph-rgw: the cluster was stopped');
        if (gateway()?.isRunning()) return;
        await daemon(RGW_NAME, 'radosgw', ['-n', RGW_NAME]);
        await answering(timeoutMs);
      },
      stop,
    };
  } catch (e) {
    // The daemons go; once one ran, the dir (logs, a few KiB) stays for the post-mortem the message names.
    stopped = true;
    await kill();
    if (daemons.size === 0) {
      await removeTempDir(dir);
      throw e;
    }
    throw e instanceof Error ? Object.assign(e, { message: `${e.message}\n(logs kept in ${dir})` }) : e;
  }
}

async function twoFreePorts(): Promise<[number, number]> {
  for (;;) {
    const a = await freePort();
    const b = await freePort();
    if (a !== b) return [a, b];
  }
}

/**
 * SDK v3 client settings that work against RGW. The checksum settings matter: with the SDK's defaults
 * (WHEN_SUPPORTED) a streamed PutObject/UploadPart body is sent aws-chunked with a CRC trailer, which RGW 16
 * refuses with 411 MissingContentLength; WHEN_REQUIRED sends plain bodies. Path style: no bucket DNS here.
 */
export function s3ConfigFor(rgw: Pick<Rgw, 'endpoint' | 'accessKeyId' | 'secretAccessKey' | 'region'>): S3ClientConfig {
  return {
    endpoint: rgw.endpoint,
    region: rgw.region,
    credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  };
}

export function s3ClientFor(rgw: Pick<Rgw, 'endpoint' | 'accessKeyId' | 'secretAccessKey' | 'region'>): S3Client {
  return new S3Client(s3ConfigFor(rgw));
}
