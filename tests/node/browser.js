// Drive the report's predictor page in headless Chromium (playwright-core, Debian's
// chromium): node browser.js URL PHONE SPEC OTHER_PHONE OTHER_SPEC TFLITE SCREENSHOT
// prints {"spec": ms, "other": ms, "tflite": ms, "bad": text, "console": [...]}.
'use strict';
const { chromium } = require('playwright-core');

async function ms(page) {
  await page.waitForFunction(() => document.body.getAttribute('data-state') === 'ready'
    || document.body.getAttribute('data-state') === 'error');
  const state = await page.getAttribute('body', 'data-state');
  if (state !== 'ready') throw new Error(await page.textContent('#result'));
  return Number(await page.getAttribute('#result', 'data-ms'));
}

async function main() {
  const [url, phone, spec, otherPhone, otherSpec, tflite, shot] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const console_ = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
    page.on('console', (m) => console_.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => console_.push(`pageerror: ${e.message}`));
    const query = new URLSearchParams({ phone, spec });
    await page.goto(`${url}?${query}`);
    const first = await ms(page);
    await page.selectOption('#phone', { label: otherPhone });
    await page.fill('#spec', otherSpec);
    await page.evaluate(() => document.body.setAttribute('data-state', 'busy'));
    await page.click('#predict');
    const other = await ms(page);
    await page.evaluate(() => document.body.setAttribute('data-state', 'busy'));
    await page.setInputFiles('#tflite', tflite);
    const fromFile = await ms(page);
    await page.screenshot({ path: shot, fullPage: true });
    await page.fill('#spec', 'r224 conv_k0_s1_c8');
    await page.evaluate(() => document.body.setAttribute('data-state', 'busy'));
    await page.click('#predict');
    await page.waitForFunction(() => document.body.getAttribute('data-state') === 'error');
    const bad = await page.textContent('#result');
    console.log(JSON.stringify({ spec: first, other, tflite: fromFile, bad, console: console_ }));
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  console.error(`browser.js: ${err.message}`);
  process.exit(2);
});
