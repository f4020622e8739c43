// Drives the depot's web pages in headless Chromium (Debian's /usr/bin/chromium through
// puppeteer-core) and reports what a person would see, as JSON on stdout; the C# test compares it
// with the catalog and with ffmpeg. Saves a screenshot of each page into the given directory.
// usage: node web-pages.mjs BASE_URL PLAN.json SCREENSHOT_DIR OUT_DIR
import fs from 'node:fs';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

const [base, planFile, shots, outDir] = process.argv.slice(2);
const plan = JSON.parse(fs.readFileSync(planFile, 'utf8'));
fs.mkdirSync(shots, { recursive: true });
fs.mkdirSync(outDir, { recursive: true });

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--window-size=1366,900'],
  defaultViewport: { width: 1366, height: 900 },
});
const result = { searches: [], sorts: {}, pages: [] };
try {
  const page = await browser.newPage();
  const ids = () => page.$$eval('#recordings tbody tr[data-id]', rows => rows.map(r => Number(r.dataset.id)));

  // Each search typed into the form as a person would, submitted, then reloaded from its URL.
  for (const search of plan.searches) {
    await page.goto(base, { waitUntil: 'load' });
    for (const [key, value] of Object.entries(search.fields)) {
      if (key === 'has_drops') await page.click('#f-has_drops');
      else await page.type(`#f-${key}`, value);
    }
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('form.search button[type=submit]')]);
    const url = page.url();
    const found = await ids();
    const values = await page.$$eval('form.search input[type=text]', inputs => Object.fromEntries(inputs.map(i => [i.name, i.value])));
    await page.reload({ waitUntil: 'load' });
    const afterReload = await ids();
    const fresh = await browser.newPage();
    await fresh.goto(url, { waitUntil: 'load' });
    const fromUrl = await fresh.$$eval('#recordings tbody tr[data-id]', rows => rows.map(r => Number(r.dataset.id)));
    await fresh.close();
    result.searches.push({ name: search.name, url, ids: found, afterReload, fromUrl, values });
    if (search.screenshot) await page.screenshot({ path: path.join(shots, search.screenshot), fullPage: true });
  }

  // Sorting by clicking the column headers.
  for (const key of ['duration', 'size', 'time']) {
    await page.goto(base, { waitUntil: 'load' });
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click(`th a[data-sort=${key}]`)]);
    result.sorts[key] = await ids();
  }

  // Pagination: one recording per page, following "Next page" to the end.
  await page.goto(base + '?limit=1', { waitUntil: 'load' });
  for (;;) {
    result.pages.push(...await ids());
    const next = await page.$('#next-page');
    if (!next || result.pages.length > 100) break;
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), next.click()]);
  }

  // The unfiltered recordings page (the README's screenshot).
  await page.goto(base, { waitUntil: 'load' });
  await page.screenshot({ path: path.join(shots, 'recordings.png'), fullPage: true });

  // The device's timeline: bars and marks; the keyboard reaches a bar and Enter opens its recording.
  await page.goto(`${base}devices/${encodeURIComponent(plan.device)}/timeline`, { waitUntil: 'load' });
  result.timeline = {
    days: await page.$$eval('#timeline .day', d => d.length),
    bars: await page.$$eval('#timeline a.bar', b => b.map(x => Number(x.dataset.id))),
    marks: await page.$$eval('#timeline a.mark', m => m.map(x => Number(x.dataset.event))),
    dropBars: await page.$$eval('#timeline a.bar.drops', b => b.map(x => Number(x.dataset.id))),
  };
  await page.screenshot({ path: path.join(shots, 'timeline.png'), fullPage: true });
  await page.focus('#timeline a.bar');
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.keyboard.press('Enter')]);
  result.timeline.enterOpens = new URL(page.url()).pathname;

  // The devices list.
  await page.goto(base + 'devices', { waitUntil: 'load' });
  await page.screenshot({ path: path.join(shots, 'devices.png'), fullPage: true });

  // The recording with video: topics, events, the thumbnail as the browser got it, the links.
  await page.goto(`${base}recordings/${plan.detail}`, { waitUntil: 'load' });
  await page.waitForFunction(() => Array.from(document.images).every(i => i.complete), { timeout: 30000 });
  result.detail = {
    topics: await page.$$eval('#topics tbody tr', rows => rows.map(r => ({ topic: r.dataset.topic, messages: r.querySelector('td.messages').textContent, drops: r.querySelector('td.drops').textContent }))),
    events: await page.$$eval('#events tbody tr', rows => rows.map(r => r.children[3].textContent)),
    thumbnails: await page.$$eval('img.thumbnail', imgs => imgs.map(i => ({ src: i.getAttribute('src'), width: i.naturalWidth, height: i.naturalHeight }))),
    exportHref: await page.$eval('#export', a => a.getAttribute('href')),
    foxglove: await page.$eval('#foxglove', a => a.href),
    downloads: await page.$$eval('a.download', a => a.map(x => x.getAttribute('href'))),
  };
  await page.screenshot({ path: path.join(shots, 'recording.png'), fullPage: true });
  result.detail.thumbnailFiles = [];
  for (const [i, t] of result.detail.thumbnails.entries()) {
    const bytes = await page.evaluate(async src => {
      const r = await fetch(src);
      return Array.from(new Uint8Array(await r.arrayBuffer()));
    }, t.src);
    const file = path.join(outDir, `thumbnail-${i}.png`);
    fs.writeFileSync(file, Buffer.from(bytes));
    result.detail.thumbnailFiles.push(file);
  }
  const exported = await fetch(new URL(result.detail.exportHref, base));
  result.detail.exportStatus = exported.status;
  result.detail.exportFile = path.join(outDir, 'export.mcap');
  fs.writeFileSync(result.detail.exportFile, Buffer.from(await exported.arrayBuffer()));
  const ranged = await fetch(new URL(result.detail.downloads[0], base), { headers: { Range: 'bytes=0-7' } });
  result.detail.rangeStatus = ranged.status;
  result.detail.rangeBytes = Array.from(new Uint8Array(await ranged.arrayBuffer()));
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(result));
