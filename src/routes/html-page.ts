// The shell of the mirror's own pages (status and setup): server-rendered, no external assets, one small
// inline stylesheet that reads well on a phone (390 px: nav on one line that scrolls sideways if it must,
// nothing wider than the screen) and follows the system's light or dark theme. A page that asks for it
// refreshes its numbers with a few lines of inline script (fetch the page again, swap <main>), or with a
// meta refresh when scripts are off.

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A tagged template that escapes every interpolated value unless it is already Html. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export type HtmlValue = Html | string | number | undefined | null | false | readonly HtmlValue[];

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? '');
  });
  return new Html(out);
}

function render(value: HtmlValue): string {
  if (value === undefined || value === null || value === false) return '';
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

const STYLE = `
:root{color-scheme:light dark;--bg:#f5f6f8;--card:#fff;--ink:#1b1f24;--muted:#5f6b7a;--line:#e3e6ea;--accent:#0b7a5a;--warn:#c27c0e;--bad:#c0392b;--code:#f0f2f4}
@media (prefers-color-scheme:dark){:root{--bg:#0f1216;--card:#181c22;--ink:#e8ebef;--muted:#97a3b1;--line:#2a3038;--accent:#35c28f;--warn:#e0a33a;--bad:#ef6b5c;--code:#11151a}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header{background:var(--card);border-bottom:1px solid var(--line);padding:14px 20px;display:flex;flex-wrap:wrap;gap:6px 20px;align-items:baseline}
header h1{margin:0;font-size:19px;letter-spacing:.2px}
header h1 a{color:inherit;text-decoration:none}
header .sub{color:var(--muted);font-size:13px}
nav{margin-left:auto;display:flex;gap:16px;font-size:14px;white-space:nowrap;overflow-x:auto;max-width:100%;scrollbar-width:none}
nav a{padding:2px 0}
a{color:var(--accent)}
main{max-width:1080px;margin:0 auto;padding:18px 16px 40px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(160px,1fr));gap:12px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px}
.card h2{margin:0 0 6px;font-size:12.5px;font-weight:600;text-transform:uppercase;letter-spacing:.5px;color:var(--muted)}
.big{font-size:28px;font-weight:650;line-height:1.15;font-variant-numeric:tabular-nums}
.note{color:var(--muted);font-size:13px;margin-top:4px}
.bar{height:7px;border-radius:4px;background:var(--line);overflow:hidden;margin-top:8px}
.bar>span{display:block;height:100%;background:var(--accent)}
.bar.warn>span{background:var(--warn)}.bar.bad>span{background:var(--bad)}
section{margin-top:16px}
section>h2{font-size:15px;margin:0 0 8px}
table{width:100%;border-collapse:collapse;font-size:14px}
th,td{text-align:left;padding:7px 6px;border-top:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:600;font-size:12.5px;border-top:0}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.dot{display:inline-block;width:9px;height:9px;border-radius:50%;margin-right:6px;background:var(--muted)}
.dot.up{background:var(--accent)}.dot.down{background:var(--bad)}
.err{color:var(--bad);font-size:13px;word-break:break-word}
.scroll{overflow-x:auto}
figure.chart{display:flex;margin:0}
.chart svg{display:block;flex:none;overflow:visible}
.chart svg.chart-plot{flex:1 1 auto;min-width:0;width:auto;margin-right:2px}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;font-size:13px;color:var(--muted);margin-top:6px}
.legend span{white-space:nowrap}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;vertical-align:-1px}
pre{background:var(--code);border:1px solid var(--line);border-radius:8px;padding:10px 12px;overflow-x:auto;font-size:13px;line-height:1.4}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
p code,li code{background:var(--code);padding:1px 4px;border-radius:4px;overflow-wrap:anywhere}
.two{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:12px;margin-top:16px}
.two>section{margin-top:0}
footer{color:var(--muted);font-size:12.5px;margin-top:22px}
td code{word-break:break-all}
@media (max-width:600px){
header{padding:10px 14px}
header h1{font-size:18px}
nav{margin-left:0;flex:1 0 100%;gap:14px;font-size:14.5px}
main{padding:12px 10px 32px}
.grid{grid-template-columns:repeat(2,minmax(0,1fr));gap:10px}
.card{padding:12px}
.big{font-size:24px}
.two{grid-template-columns:minmax(0,1fr)}
h2{font-size:18px}
pre{white-space:pre-wrap;overflow-wrap:anywhere}
}
`;

// Every refreshSeconds (not while the tab is hidden, and at once when it is shown again): fetch the same
// page and swap <main> and the subtitle. No framework, no external file; a failed fetch keeps the old page.
const REFRESH = `(function(){var ms=Number(document.currentScript.dataset.seconds)*1000;
function swap(doc,sel){var a=document.querySelector(sel),b=doc.querySelector(sel);if(a&&b)a.innerHTML=b.innerHTML;}
function tick(){if(document.hidden)return;fetch(location.href,{cache:'no-store',headers:{accept:'text/html'}})
.then(function(r){if(!r.ok)throw new Error(String(r.status));return r.text();})
.then(function(t){var d=new DOMParser().parseFromString(t,'text/html');swap(d,'main');swap(d,'header .sub');})
.catch(function(){});}
setInterval(tick,ms);document.addEventListener('visibilitychange',function(){if(!document.hidden)tick();});})();`;

export function page(options: { title: string; subtitle?: string; body: Html; refreshSeconds?: number }): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${options.refreshSeconds ? html`<noscript><meta http-equiv="refresh" content="${Math.max(60, options.refreshSeconds)}"></noscript>` : ''}
<title>${options.title}</title>
<style>${new Html(STYLE)}</style>
</head>
<body>
<header>
<h1><a href="/">pullthrough</a></h1>
${options.subtitle ? html`<span class="sub">${options.subtitle}</span>` : ''}
<nav><a href="/">Status</a><a href="/setup/docker">Docker</a><a href="/setup/containerd">containerd</a><a href="/setup/podman">Podman</a><a href="/metrics">/metrics</a></nav>
</header>
<main>
${options.body}
</main>
${options.refreshSeconds ? html`<script data-seconds="${options.refreshSeconds}">${new Html(REFRESH)}</script>` : ''}
</body>
</html>
`.text;
}
