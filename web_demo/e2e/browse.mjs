// Drives Debian's Chromium (never a downloaded browser) with playwright-core for the tests in
// tests/demos/. Usage: node browse.mjs '<job json>'; prints one JSON result line on stdout.
//   job.mode "page":  open job.url, wait for load, report console errors, page errors, failed
//                     requests and every <img> (naturalWidth), take job.screenshot (full page).
//   job.mode "demo":  open the web demo, wait until it is ready, run each of job.samples through
//                     the UI (select + click) and report what the page shows and sent.
import { chromium } from 'playwright-core';

const job = JSON.parse(process.argv[2]);
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-default-apps', '--disable-extensions'];
const browser = await chromium.launch({ executablePath: job.chromium || '/usr/bin/chromium', args: ARGS, headless: true });
const out = { console: [], pageErrors: [], failedRequests: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  page.on('console', (m) => out.console.push({ type: m.type(), text: m.text() }));
  page.on('pageerror', (e) => out.pageErrors.push(String(e)));
  page.on('requestfailed', (r) => out.failedRequests.push(`${r.url().slice(0, 120)}: ${r.failure()?.errorText}`));
  page.on('response', (r) => { if (r.status() >= 400) out.failedRequests.push(`${r.url().slice(0, 120)}: HTTP ${r.status()}`); });
  page.setDefaultTimeout(job.timeout_ms || 60000);
  await page.goto(job.url, { waitUntil: 'load' });
  if (job.mode === 'page') {
    out.images = await page.$$eval('img', (imgs) => imgs.map((i) => ({
      alt: i.alt, plot: i.dataset.plot || null, complete: i.complete, naturalWidth: i.naturalWidth,
      naturalHeight: i.naturalHeight, width: i.getBoundingClientRect().width,
      box: (({ x, y, width, height }) => ({ x: x + window.scrollX, y: y + window.scrollY, width, height }))(i.getBoundingClientRect()) })));
    out.title = await page.title();
    out.sections = await page.$$eval('section', (s) => s.map((e) => e.id));
    if (job.screenshot) await page.screenshot({ path: job.screenshot, fullPage: true });
  } else if (job.mode === 'demo') {
    await page.waitForFunction(() => ['ready', 'error'].includes(document.getElementById('status').dataset.state));
    out.status = await page.textContent('#status');
    out.crossOriginIsolated = await page.evaluate(() => self.crossOriginIsolated);
    out.runs = [];
    if ((await page.getAttribute('#status', 'data-state')) === 'ready') {
      for (const i of job.samples) {
        await page.selectOption('#sample', String(i));
        await page.click('#go');
        await page.waitForFunction((k) => {
          const s = document.getElementById('status').dataset.state;
          const last = window.hybridsplitDemo.last;
          return (s === 'done' || s === 'error') && last && last.sample === k;
        }, i);
        const last = await page.evaluate(() => window.hybridsplitDemo.last);
        last.shown = await page.textContent('#prediction');
        last.shownIndex = await page.getAttribute('#prediction', 'data-index');
        out.runs.push(last);
      }
    }
    if (job.screenshot) await page.screenshot({ path: job.screenshot, fullPage: true });
  }
} catch (e) {
  out.error = String(e && e.stack || e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
