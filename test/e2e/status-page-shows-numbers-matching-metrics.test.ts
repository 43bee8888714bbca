import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';
import { scrape, sumOf } from '../support/prometheus-text.ts';
import { makeTempDir, removeTempDir } from './support/temp-dir.ts';

// The status page in a real browser (Debian's chromium driven by playwright-core) after pulls through
// the mirror: every figure it shows must equal what /metrics says, at 1280 px and on a 390 px phone (issue
// 12: readable chart text, a nav on one line, nothing wider than the screen), and the numbers refresh by
// themselves. The screenshots are kept for people.

const SCREENSHOT = path.resolve('test-artifacts/status-page.png');
let hub: MemoryRegistry;
let ghcr: MemoryRegistry;
let mirror: TestMirror;
let browser: BrowserContext;
let profile: string;

before(async () => {
  hub = await new MemoryRegistry({ tokenAuth: true, rateLimit: { limit: 100, remaining: 71 } }).start();
  ghcr = await new MemoryRegistry().start();
  mirror = await startMirror({
    dockerhub: { url: hub.url, aliases: ['docker.io'], defaultNamespace: 'library', tagTtl: '1h' },
    ghcr: { url: ghcr.url, aliases: ['ghcr.io'], tagTtl: '1h' },
  });
  profile = await makeTempDir('chromium');
  // A temp profile (playwright passes it as --user-data-dir), so runs never share browser state.
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
});
after(async () => {
  await browser?.close();
  await mirror?.close();
  await hub?.stop();
  await ghcr?.stop();
  if (profile) await removeTempDir(profile);
});

/**
 * What a person sees at this width: the page fits (no element pokes out past the screen unless it sits
 * in a box that scrolls sideways by design, like a code block), the nav is one line, and the chart's
 * text is drawn at 10 CSS px or more.
 */
async function checkLayout(page: Page, width: number): Promise<void> {
  // No named functions in here: tsx's esbuild would wrap them in a __name() the browser does not have.
  const layout = await page.evaluate(() => {
    const overflowing = [...document.body.querySelectorAll('*')]
      .filter((el) => {
        if (el.getBoundingClientRect().right <= window.innerWidth + 0.5) return false;
        for (let up = el.parentElement; up; up = up.parentElement) {
          if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(up).overflowX)) return false;
        }
        return true;
      })
      .map((el) => `${el.tagName.toLowerCase()}.${el.className}`);
    const navTops = [...document.querySelectorAll('nav a')].map((a) => Math.round(a.getBoundingClientRect().top));
    const nav = document.querySelector('nav') as HTMLElement;
    const chartText = [...document.querySelectorAll('.chart text')].map((el) => {
      const text = el as SVGTextElement;
      const scale = text.getScreenCTM()?.a ?? 0;
      return { text: text.textContent, px: parseFloat(getComputedStyle(text).fontSize) * scale, height: text.getBoundingClientRect().height };
    });
    return {
      scrollWidth: document.documentElement.scrollWidth,
      innerWidth: window.innerWidth,
      overflowing,
      navTops,
      navScrolls: nav.scrollWidth > nav.clientWidth,
      chartText,
    };
  });
  assert.equal(layout.innerWidth, width);
  assert.ok(layout.scrollWidth <= layout.innerWidth, `no horizontal page scroll at ${width} px (scrollWidth ${layout.scrollWidth})`);
  assert.deepEqual(layout.overflowing, [], `nothing wider than the screen at ${width} px`);
  assert.equal(new Set(layout.navTops).size, 1, `the nav is one line at ${width} px: link tops ${layout.navTops.join(', ')}`);
  assert.equal(layout.navTops.length, 5);
  assert.ok(layout.chartText.length >= 5, 'the chart has axis labels');
  for (const label of layout.chartText) {
    assert.ok(label.px >= 10 && label.height >= 10, `chart text "${label.text}" at ${width} px is ${label.px.toFixed(1)} px`);
  }
}

/** Registry requests this test has sent, to know when the mirror has counted all of them. */
let sent = 0;

async function send(url: string, init?: RequestInit): Promise<Response> {
  sent++;
  return fetch(url, init);
}

/** A pull as dockerd does it: HEAD the tag, GET the manifest by digest, GET the config and the layers. */
async function pull(name: string, tag: string): Promise<void> {
  const head = await send(`${mirror.url}/v2/${name}/manifests/${tag}`, { method: 'HEAD' });
  assert.equal(head.status, 200, `${name}:${tag}`);
  const digest = head.headers.get('docker-content-digest');
  const manifest = (await (await send(`${mirror.url}/v2/${name}/manifests/${digest}`)).json()) as { config: { digest: string }; layers: Array<{ digest: string }> };
  for (const blob of [manifest.config, ...manifest.layers]) {
    const response = await send(`${mirror.url}/v2/${name}/blobs/${blob.digest}`);
    assert.equal(response.status, 200);
    await response.arrayBuffer();
  }
}

/**
 * Waits until the mirror has finished the bookkeeping of every request sent: a client has its last byte
 * before the server's onResponse hook counts the request, and a fill is committed (and so counted in the
 * cache size) after its last byte went out. Reading the page and /metrics before that made them disagree
 * now and then (issue 14).
 */
async function settled(): Promise<void> {
  await mirror.app.mirror.fills.drain();
  for (;;) {
    const counted = sumOf(await scrape(mirror.url), 'pullthrough_requests_total');
    if (counted === sent) break;
    assert.ok(counted < sent, `the mirror counted ${counted} requests, the test sent ${sent}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await mirror.app.mirror.cacheSize.refresh();
}

test('after real pulls, the status page shows the same hit ratio, savings, quota, cache size and top images as /metrics', async () => {
  hub.addImage('library/alpine', '3.20', 400_000);
  hub.addImage('library/nginx', '1.27', 900_000);
  ghcr.addImage('acme/api', 'v2', 250_000);
  for (let i = 0; i < 5; i++) await pull('alpine', '3.20');
  for (let i = 0; i < 3; i++) await pull('library/nginx', '1.27');
  for (let i = 0; i < 2; i++) await pull('ghcr.io/acme/api', 'v2');
  // A skopeo-style pull: GET by tag.
  const byTag = await send(`${mirror.url}/v2/alpine/manifests/3.20`);
  assert.equal(byTag.status, 200);
  await byTag.arrayBuffer();
  await settled();

  const page = await browser.newPage();
  // A fake clock for timers only, so the page's own refresh can be run at once below.
  await page.clock.install();
  await page.goto(`${mirror.url}/`);
  const shown = async (metric: string): Promise<{ value: string; text: string }> => {
    const element = page.locator(`[data-metric="${metric}"]`);
    return { value: (await element.getAttribute('data-value')) ?? '', text: (await element.innerText()).trim() };
  };
  const m = await scrape(mirror.url);

  const fromCache = sumOf(m, 'pullthrough_requests_total', { kind: ['manifest', 'blob'], cache: ['hit', 'revalidated', 'stale'] });
  const misses = sumOf(m, 'pullthrough_requests_total', { kind: ['manifest', 'blob'], cache: 'miss' });
  assert.ok(fromCache > 0 && misses > 0);
  const hitRatio = await shown('hit-ratio');
  assert.equal(Number(hitRatio.value), fromCache / (fromCache + misses));
  assert.equal(hitRatio.text, `${((100 * fromCache) / (fromCache + misses)).toFixed(1)}%`);

  const bytesSaved = await shown('bytes-saved');
  assert.equal(Number(bytesSaved.value), sumOf(m, 'pullthrough_served_bytes_total', { source: 'cache' }));
  assert.ok(Number(bytesSaved.value) > 4 * 400_000);

  const pullsSaved = await shown('pulls-saved');
  const expectedPullsSaved = sumOf(m, 'pullthrough_requests_total', { kind: 'manifest', method: 'GET', cache: ['hit', 'revalidated', 'stale'] });
  assert.equal(Number(pullsSaved.value), expectedPullsSaved);
  assert.equal(pullsSaved.text, String(expectedPullsSaved));
  // 11 manifest GETs by clients; 3 images = 3 upstream GETs that succeeded.
  assert.equal(sumOf(m, 'pullthrough_upstream_requests_total', { kind: 'manifest', method: 'GET', status_class: '2xx' }), 3);

  const quota = await shown('quota-remaining');
  assert.equal(Number(quota.value), sumOf(m, 'pullthrough_upstream_ratelimit_remaining', { upstream: 'dockerhub' }));
  assert.equal(quota.text, '71 / 100');

  const cache = await shown('cache-bytes');
  assert.equal(Number(cache.value), sumOf(m, 'pullthrough_cache_bytes'));
  assert.ok(Number(cache.value) >= 400_000 + 900_000 + 250_000);

  const rows = await page.locator('[data-metric="top-images"] tr[data-image]').evaluateAll((trs) =>
    trs.map((tr) => ({ image: tr.getAttribute('data-image'), count: Number(tr.getAttribute('data-value')) })));
  assert.deepEqual(rows, [
    { image: 'dockerhub/library/alpine', count: sumOf(m, 'pullthrough_image_pulls', { image: 'dockerhub/library/alpine' }) },
    { image: 'dockerhub/library/nginx', count: sumOf(m, 'pullthrough_image_pulls', { image: 'dockerhub/library/nginx' }) },
    { image: 'ghcr/acme/api', count: sumOf(m, 'pullthrough_image_pulls', { image: 'ghcr/acme/api' }) },
  ]);
  assert.deepEqual(rows.map((r) => r.count), [6, 3, 2]);

  const chartTotal = Number(await page.locator('svg[data-total]').getAttribute('data-total'));
  assert.equal(chartTotal, sumOf(m, 'pullthrough_requests_total', { kind: ['manifest', 'blob', 'tags', 'referrers'], cache: ['hit', 'revalidated', 'stale', 'miss', 'passthrough'] }));
  assert.deepEqual(await page.locator('tr[data-upstream]').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-state'))), ['up', 'up']);
  for (const href of ['/setup/docker', '/setup/containerd', '/setup/podman', '/metrics']) {
    assert.equal(await page.locator(`nav a[href="${href}"]`).count(), 1, href);
  }

  // Only upstreams that are Docker Hub or sent rate-limit headers get a quota card: not ghcr here.
  assert.deepEqual(await page.locator('.card[data-upstream]').evaluateAll((cards) => cards.map((c) => c.getAttribute('data-upstream'))), ['dockerhub']);
  const chartTicks = await page.locator('.chart-axis text').allTextContents();
  assert.ok(chartTicks.every((tick) => /^\d+$/.test(tick)), `whole-number axis ticks: ${chartTicks.join(', ')}`);

  await checkLayout(page, 1280);
  await mkdir(path.dirname(SCREENSHOT), { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });

  // The page refreshes its numbers by itself (every 10 to 15 s): one more pull, then the page's timer.
  const seconds = Number(await page.locator('script[data-seconds]').getAttribute('data-seconds'));
  assert.ok(seconds >= 10 && seconds <= 15, `refresh every ${seconds} s`);
  await pull('alpine', '3.20');
  await settled();
  const before = Number(pullsSaved.value);
  await page.clock.runFor(seconds * 1000);
  await page.waitForFunction((was) => Number(document.querySelector('[data-metric="pulls-saved"]')?.getAttribute('data-value')) > was, before, { timeout: 5000 });
  assert.equal(Number((await shown('pulls-saved')).value), sumOf(await scrape(mirror.url), 'pullthrough_requests_total', { kind: 'manifest', method: 'GET', cache: ['hit', 'revalidated', 'stale'] }));

  // Good on a phone: readable chart text, a one-line nav, nothing wider than the screen.
  const phone = await browser.newPage();
  await phone.setViewportSize({ width: 390, height: 844 });
  await phone.goto(`${mirror.url}/`);
  await checkLayout(phone, 390);
  await phone.screenshot({ path: SCREENSHOT.replace(/\.png$/, '-phone.png'), fullPage: true });
});
