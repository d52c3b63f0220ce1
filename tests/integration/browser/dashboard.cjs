// The dashboard in a real browser (Debian's chromium, driven by playwright-core) during a
// rollout, as an operator sees it. Run by tests/integration/dashboard.sh:
//
//   node dashboard.cjs   with PW_MODULES (node_modules holding playwright-core),
//   PW_URL (https://HOST:PORT), PW_TOKEN (a viewer's session token), PW_ROLLOUT (id),
//   PW_SPKI (base64 sha256 of the controller's public key: the one certificate the
//   browser accepts), PW_OUT (directory for screenshots and the "ready" signal).
//
// It signs in through /ui/login?token=..., waits until east and north have succeeded
// and south waits for its approval, checks the approval page's command, writes
// $PW_OUT/ready, waits (while the test approves) for south to shift its traffic and to
// succeed, without reloading the page, takes screenshots, and checks that the viewer
// cannot act from the page. Any failure exits 1 with the reason.
'use strict';

const fs = require('fs');
const path = require('path');
const { chromium } = require(path.join(process.env.PW_MODULES, 'playwright-core'));

const url = process.env.PW_URL;
const rollout = process.env.PW_ROLLOUT;
const out = process.env.PW_OUT;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const seen = {};    // region -> every state label seen
const splits = {};  // region -> every traffic text seen

function log(message) {
  console.log(new Date().toISOString().slice(11, 19) + ' ' + message);
}

// The regions of the rollout as the page shows them: {region: {state, traffic, waits}}.
async function regions(page) {
  return page.evaluate((id) => {
    const rows = document.querySelectorAll(`[data-rollout="${id}"] tr[data-region]`);
    const result = {};
    for (const row of rows) {
      const text = (sel) => (row.querySelector(sel) || {innerText: ''}).innerText.trim();
      result[row.dataset.region] = {state: text('.state'), traffic: text('.traffic'),
        waits: text('.waits'), ttp: text('.ttp'), health: text('.health')};
    }
    return result;
  }, rollout);
}

async function until(page, what, test, timeoutMs) {
  const end = Date.now() + timeoutMs;
  let last = {};
  for (;;) {
    last = await regions(page);
    for (const [region, r] of Object.entries(last)) {
      (seen[region] = seen[region] || new Set()).add(r.state);
      (splits[region] = splits[region] || new Set()).add(r.traffic);
    }
    if (test(last)) return last;
    if (Date.now() > end) {
      throw new Error(`timed out waiting for ${what}; the page shows ${JSON.stringify(last)}`);
    }
    await sleep(150);
  }
}

async function main() {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      // Trust exactly the controller's key, nothing else.
      `--ignore-certificate-errors-spki-list=${process.env.PW_SPKI}`],
  });
  try {
    const context = await browser.newContext({viewport: {width: 1440, height: 900}});
    const page = await context.newPage();
    const problems = [];
    let posting = false;  // the one request expected to fail (403), below
    page.on('console', (m) => {
      if (m.type() === 'error' && !(posting && m.text().includes('status of 403'))) {
        problems.push('console: ' + m.text());
      }
    });
    page.on('pageerror', (e) => problems.push('page error: ' + e.message));

    // Without a session the page sends you to sign in.
    await page.goto(url + '/ui/');
    if (!page.url().includes('/ui/login')) throw new Error('not sent to sign in: ' + page.url());
    log('without a session: the sign-in page');

    await page.goto(`${url}/ui/login?token=${process.env.PW_TOKEN}`);
    if (!/\/ui\/(#.*)?$/.test(page.url())) throw new Error('sign-in did not land on /ui/: ' + page.url());
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'pw_session');
    if (!session || !session.httpOnly || !session.secure || session.sameSite !== 'Strict') {
      throw new Error('no HttpOnly, Secure, SameSite=Strict session cookie: ' + JSON.stringify(cookies));
    }
    await page.waitForFunction(() => document.getElementById('operator').innerText.length > 0);
    const who = await page.locator('#operator').innerText();
    if (!who.includes('vera (viewer)')) throw new Error('header shows ' + who);
    log('signed in as ' + who);
    await page.evaluate(() => { window.__noReload = true; });

    await page.locator(`[data-rollout="${rollout}"]`).waitFor({timeout: 60000});
    const names = Object.keys(await regions(page)).sort();
    if (names.join(',') !== 'east,north,south') throw new Error('regions shown: ' + names);
    await until(page, 'east and north succeeded, south awaiting approval', (r) =>
      r.east && r.north && r.south && r.east.state === 'succeeded' && r.north.state === 'succeeded' &&
      r.south.state === 'awaiting approval', 240000);
    const now = await regions(page);
    log('regions: ' + JSON.stringify(now));
    if (!/^1 more signed approval \(0 of 1\)/.test(now.south.waits)) {
      throw new Error('south says it waits for: ' + now.south.waits);
    }
    for (const r of ['east', 'north']) {
      if (now[r].traffic !== '0% old \u00b7 100% new') throw new Error(`${r} traffic: ${now[r].traffic}`);
      if (!/^\d+(s|m \d\ds)$/.test(now[r].ttp)) throw new Error(`${r} time to patch: ${now[r].ttp}`);
    }
    if (now.south.traffic !== '100% old \u00b7 0% new') throw new Error('south traffic: ' + now.south.traffic);
    await page.screenshot({path: path.join(out, 'waiting.png'), fullPage: true});

    // The approval page: what it would change and the command to sign it.
    await page.click('nav a[data-page="approvals"]');
    const card = page.locator(`.approval[data-region="south"][data-rollout="${rollout}"]`);
    await card.waitFor({timeout: 10000});
    const command = await card.locator('.approve-command code').innerText();
    const expected = `patchwave approve ${rollout} --region south --key YOUR_APPROVER_KEY`;
    if (!command.startsWith(expected)) throw new Error('approve command: ' + command);
    const changes = await card.locator('ul.changes').innerText();
    if (!changes.includes('create 2 fresh servers in south') || !changes.includes('retire after the bake')) {
      throw new Error('changes: ' + changes);
    }
    const badge = await page.locator('#approvals-count').innerText();
    if (badge !== '1') throw new Error('approvals badge: ' + badge);
    await page.screenshot({path: path.join(out, 'approvals.png'), fullPage: true});
    log('approval page: ' + command);

    // A viewer cannot act, not even from the page.
    posting = true;
    const status = await page.evaluate(async () =>
      (await fetch('/ui/api/rollouts', {method: 'POST', body: '{}'})).status);
    await sleep(200);
    posting = false;
    if (status !== 403) throw new Error('a POST from the page answered ' + status);

    await page.click('nav a[data-page="rollouts"]');
    await page.locator(`[data-rollout="${rollout}"]`).waitFor();
    fs.writeFileSync(path.join(out, 'ready'), 'ready\n');
    log('ready: waiting for the approval');

    // Approved by the test: south moves its traffic step by step, live on the page.
    const shifting = await until(page, 'south shifting', (r) => r.south && /^shifting step/.test(r.south.state), 180000);
    log('south: ' + JSON.stringify(shifting.south));
    await page.screenshot({path: path.join(out, 'dashboard.png'), fullPage: false});
    await until(page, 'south succeeded', (r) => r.south && r.south.state === 'succeeded', 180000);
    await page.screenshot({path: path.join(out, 'succeeded.png'), fullPage: true});
    if (!(await page.evaluate(() => window.__noReload === true))) throw new Error('the page reloaded');
    const southSplits = [...splits.south];
    if (!southSplits.some((s) => /^\d+% old \u00b7 \d+% new$/.test(s) && !s.startsWith('0%') && !s.startsWith('100%'))) {
      throw new Error('never saw south split between old and new: ' + southSplits);
    }
    if (problems.length) throw new Error(problems.join('; '));
    const summary = {};
    for (const [r, states] of Object.entries(seen)) summary[r] = [...states];
    fs.writeFileSync(path.join(out, 'seen.json'), JSON.stringify({states: summary,
      splits: Object.fromEntries(Object.entries(splits).map(([r, s]) => [r, [...s]]))}, null, 1));
    log('seen: ' + JSON.stringify(summary));
  } finally {
    await browser.close();
  }
}

main().then(() => process.exit(0), (error) => {
  console.error('browser test failed: ' + (error && error.stack || error));
  process.exit(1);
});
