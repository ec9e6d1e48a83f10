// The operator dashboard in a real browser (issue 12): Debian's chromium, driven headless by
// playwright-core (no browser download), against the real `webhook-receiver serve` started here
// on a temp config with port 0 for both listeners.
//   node tests/browser/dashboard.test.mjs [path/to/webhook-receiver]   (or $WEBHOOK_RECEIVER_BIN)
//   SCREENSHOT_DIR=docs node tests/browser/dashboard.test.mjs ...     also writes the screenshots
// Steps: sign in (a wrong token first), a signed payment.requiresReview appears without a reload,
// search opens the payment and a customer, an exec handler's failure becomes a dead letter that
// Redrive sends back (and the service then runs it), hostile payload strings render as text,
// a token that stops working returns to the sign-in. Exits 0 when every check passed, 1 otherwise,
// 77 when tests/browser/node_modules is missing (CTest reports that as skipped).

import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const EXAMPLES = path.join(HERE, '..', 'fixtures', 'conomy');
const SKIP = 77;
const WAIT_MS = 15000; // any single wait
const WATCHDOG_MS = 120000; // the whole test

// Obviously fake secrets, for this test only; never printed.
const SIGNING_KEY = 'whsec_fake_browser_test_key_0001';
const SANDBOX_KEY = 'whsec_fake_browser_test_sandbox_0001';
const ADMIN_TOKEN = 'fake-admin-token-for-the-browser-test';
const TOKEN_KEY = 'webhook-receiver.admin-token'; // app.js's sessionStorage key

const XSS_SCRIPT = '<script>window.__xss=1</script>';
const XSS_ATTR = '"><img src=x onerror="window.__xss=2">';

const t0 = Date.now();
let checks = 0;
function ok(what) {
  checks++;
  console.log(`ok ${checks} - ${what}`);
}
function check(condition, what) {
  if (!condition) throw new Error(`check failed: ${what}`);
  ok(what);
}

// ---- the receiver ------------------------------------------------------------------------------

// The WEBHOOKS.md 2.1 scheme: hex HMAC-SHA256 over the raw body, keyed with the key's UTF-8 bytes.
function sign(key, body) {
  return createHmac('sha256', Buffer.from(key, 'utf8')).update(body).digest('hex');
}

function example(name) {
  return JSON.parse(fs.readFileSync(path.join(EXAMPLES, name), 'utf8'));
}

async function waitFor(what, probe, timeoutMs = WAIT_MS) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function readPort(file) {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.endsWith('\n') ? Number(text.trim()) : 0;
  } catch {
    return 0;
  }
}

function startReceiver(bin, dir) {
  const marker = path.join(dir, 'ok');
  const config = {
    server: { listen: '127.0.0.1:0' },
    sources: [
      { name: 'production', path: '/webhooks' },
      { name: 'sandbox', path: '/webhooks/sandbox', secret_keys_env: 'WEBHOOK_RECEIVER_SANDBOX_SECRET_KEYS' },
    ],
    storage: { sqlite_path: path.join(dir, 'receiver.db') },
    payload_log: { path: '' },
    workers: { threads: 2, retry: { initial_ms: 100, max_ms: 1000, max_attempts: 3 } },
    routes: [
      // Fails until the marker file exists; one attempt, so the first failure is a dead letter.
      { match: 'payment.chargebackOpened', handlers: ['flaky'], retry: { max_attempts: 1 } },
      { match: 'customer.*', handlers: ['customers'] },
      { match: '*', handlers: ['payments', 'reviews'] },
    ],
    handlers: {
      flaky: { type: 'exec', command: ['/bin/sh', '-c', `test -f '${marker}'`], timeout_ms: 5000 },
    },
    admin: { listen: '127.0.0.1:0' },
  };
  const configPath = path.join(dir, 'config.json');
  fs.writeFileSync(configPath, JSON.stringify(config, null, 2));
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('WEBHOOK_RECEIVER_')) env[k] = v;
  env.WEBHOOK_RECEIVER_SECRET_KEYS = SIGNING_KEY;
  env.WEBHOOK_RECEIVER_SANDBOX_SECRET_KEYS = SANDBOX_KEY;
  env.WEBHOOK_RECEIVER_ADMIN_TOKEN = ADMIN_TOKEN;
  const log = fs.openSync(path.join(dir, 'receiver.log'), 'w');
  const args = ['serve', '--config', configPath, '--port-file', path.join(dir, 'port'),
    '--admin-port-file', path.join(dir, 'admin-port')];
  const child = spawn(bin, args, { env, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  child.exitInfo = null;
  exited.then((info) => (child.exitInfo = info));
  return { child, exited, marker, dir };
}

async function stopReceiver(r) {
  if (!r || r.child.exitInfo) return;
  process.kill(r.child.pid, 'SIGTERM');
  let timer;
  const timeout = new Promise((resolve) => (timer = setTimeout(() => resolve(null), 10000)));
  const exit = await Promise.race([r.exited, timeout]);
  clearTimeout(timer);
  if (exit === null) {
    console.error(`receiver pid ${r.child.pid} did not stop within 10 s of SIGTERM: SIGKILL`);
    process.kill(r.child.pid, 'SIGKILL');
    await r.exited;
  }
}

// ---- main --------------------------------------------------------------------------------------

async function main() {
  const bin = process.argv[2] || process.env.WEBHOOK_RECEIVER_BIN;
  if (!bin || !fs.existsSync(bin)) {
    console.error('usage: node dashboard.test.mjs PATH_TO_webhook-receiver (or WEBHOOK_RECEIVER_BIN)');
    return 2;
  }
  if (!fs.existsSync(path.join(HERE, 'node_modules'))) {
    console.log('SKIP: tests/browser/node_modules is missing; run `npm ci --prefix tests/browser`');
    return SKIP;
  }
  const { chromium } = await import('playwright-core');
  const shots = process.env.SCREENSHOT_DIR || '';

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webhook-dashboard-'));
  let receiver = null;
  let browser = null;
  let passed = false;
  const watchdog = setTimeout(() => {
    console.error(`not ok - the whole test took more than ${WATCHDOG_MS} ms`);
    if (receiver && !receiver.child.exitInfo) process.kill(receiver.child.pid, 'SIGKILL');
    process.exit(1);
  }, WATCHDOG_MS);
  try {
    check(sign('whsec_test_only_4f9a2c',
      '{"eventType":"customer.levelChanged","timestamp":"2026-05-03T13:58:02Z","customer":{"id":"66a2b3c4d5e6f70899990002","clientId":"demo-client-ar","firstName":"Lucia","lastName":"Ferreyra","email":"lucia.ferreyra@mail.example","documentNumber":"27333444559","operationLevel":"BASIC","autoCreated":true,"documentsCount":1}}') ===
      'c37864cf5a08a98e9d2e727ff54aa9dbe26006e14b93da91b57395b9641595ad',
    'signing matches the WEBHOOKS.md 2.4 header test vector');

    receiver = startReceiver(bin, dir);
    const ports = await waitFor('the receiver to write both port files', () => {
      if (receiver.child.exitInfo) throw new Error(`receiver exited: ${JSON.stringify(receiver.child.exitInfo)}`);
      const webhook = readPort(path.join(dir, 'port'));
      const admin = readPort(path.join(dir, 'admin-port'));
      return webhook && admin ? { webhook, admin } : null;
    }, 30000);
    ok(`receiver pid ${receiver.child.pid} listening: webhooks on ${ports.webhook}, admin on ${ports.admin}`);
    const adminUrl = `http://127.0.0.1:${ports.admin}`;

    async function deliver(payload, source = 'production') {
      const body = JSON.stringify(payload);
      const [urlPath, key] = source === 'sandbox' ? ['/webhooks/sandbox', SANDBOX_KEY] : ['/webhooks', SIGNING_KEY];
      const res = await fetch(`http://127.0.0.1:${ports.webhook}${urlPath}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Webhook-Signature': sign(key, body) },
        body,
      });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`delivery of ${payload.eventType} answered ${res.status}`);
    }
    async function adminGet(p) {
      const res = await fetch(adminUrl + p, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
      return { status: res.status, body: await res.json().catch(() => null) };
    }

    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      timeout: 30000,
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(WAIT_MS);
    const page = await context.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      // Expected: the API's 401 (wrong token) and 404 (search misses) are logged by chromium as
      // "Failed to load resource"; anything else at error level is a problem.
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) {
        problems.push(`console error: ${m.text()}`);
      }
    });
    page.on('response', (res) => {
      if (res.status() >= 500) problems.push(`HTTP ${res.status()} from ${res.url()}`);
    });
    page.on('dialog', (d) => {
      problems.push(`dialog (${d.type()}): ${d.message()}`);
      d.dismiss().catch(() => {});
    });
    await page.addInitScript(() => {
      window.__csp = [];
      document.addEventListener('securitypolicyviolation', (e) =>
        window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
    });

    // -- the page and its headers
    const response = await page.goto(adminUrl + '/');
    const csp = response.headers()['content-security-policy'] || '';
    check(response.status() === 200 && csp.includes("script-src 'self'") && csp.includes("default-src 'none'"),
      'GET / answers 200 with the strict Content-Security-Policy');
    check(response.headers()['x-content-type-options'] === 'nosniff', 'GET / sends X-Content-Type-Options: nosniff');

    // -- sign-in: a wrong token first
    await page.fill('#token', 'fake-wrong-token-0000000000');
    await page.click('#signin button[type=submit]');
    await page.waitForFunction(() => document.getElementById('signin-error').textContent.trim() !== '');
    check(await page.isHidden('#dashboard'), `a wrong token is refused: "${await page.textContent('#signin-error')}"`);
    await page.fill('#token', ADMIN_TOKEN);
    await page.click('#signin button[type=submit]');
    await page.waitForSelector('#dashboard', { state: 'visible' });
    await page.waitForSelector('#reviews-empty', { state: 'visible' });
    check(await page.isHidden('#signin-view'), 'the right token opens the dashboard, with an empty review queue');
    check(await page.evaluate((k) => sessionStorage.getItem(k) !== null, TOKEN_KEY),
      'the token is kept in sessionStorage');
    await page.waitForFunction(() => /Neither production nor sandbox/.test(document.getElementById('compare').textContent));
    ok('with no events yet, the comparison says so instead of a table of zeros');

    // -- a review appears without a reload
    await page.evaluate(() => (window.__sameDocument = true));
    const review = example('06-payment-requires-review.json');
    const txid = review.transaction.id;
    await deliver(review);
    const row = page.locator(`#reviews tbody tr[data-transaction="${txid}"]`);
    await row.waitFor();
    check(await page.evaluate(() => window.__sameDocument === true),
      `the signed payment.requiresReview ${txid} appears in the review queue without a reload`);
    const cells = await row.locator('td').allTextContents();
    check(cells.includes('2500000.00 ARS') && cells.includes('PENDING_UPLOAD') && cells.includes(review.transaction.customerId),
      `its row shows amount, customer and documentation: ${JSON.stringify(cells)}`);

    // -- two more reviews, opened 5 h and 10 min ago: oldest first, the 4 h / 24 h flags marked
    const hoursAgo = (h) => new Date(Date.now() - h * 3600000).toISOString().replace(/\.\d+Z$/, 'Z');
    const recent = [['66a2b3c4d5e6f70812345611', 5, '480000.00'], ['66a2b3c4d5e6f70812345612', 1 / 6, '95000.00']];
    for (const [id, hours, total] of recent) {
      const r = example('06-payment-requires-review.json');
      Object.assign(r.transaction, { id, totalAmount: total, externalId: `vitawallet:dep-${id.slice(-4)}` });
      r.timestamp = hoursAgo(hours);
      await deliver(r);
    }
    await page.waitForFunction(() => document.querySelectorAll('#reviews tbody tr').length === 3);
    const order = await page.$$eval('#reviews tbody tr', (rows) => rows.map((r) => r.dataset.transaction));
    check(JSON.stringify(order) === JSON.stringify([txid, recent[0][0], recent[1][0]]),
      `open reviews are listed oldest first: ${order.join(', ')}`);
    const ageClass = (id) => page.$eval(`#reviews tr[data-transaction="${id}"] td:nth-child(6)`, (td) => td.className);
    check((await ageClass(txid)) === 'flag severe' && (await ageClass(recent[0][0])) === 'flag' &&
      (await ageClass(recent[1][0])) === '', 'ages over 24 h and over 4 h are marked, a 10-minute-old one is not');

    // -- search: a customer, then the payment (which stays open for the screenshots)
    const customerEvent = example('10-customer-level-changed.json');
    await deliver(customerEvent);
    const customerId = customerEvent.customer.id;
    await waitFor('the customer projection', async () => (await adminGet(`/api/customers/${customerId}`)).status === 200);
    await page.fill('#search', customerId);
    await page.click('#search-form button[type=submit]');
    const customerBox = page.locator('#search-result [data-testid=customer]');
    await customerBox.waitFor();
    const customerText = await customerBox.textContent();
    check(customerText.includes('BASIC') && /Documented\s*yes/.test(customerText),
      'searching a customer id opens the customer record (documented, level)');
    await page.fill('#search', txid);
    await page.click('#search-form button[type=submit]');
    const paymentBox = page.locator('#search-result [data-testid=payment]');
    await paymentBox.waitFor();
    const paymentText = await paymentBox.textContent();
    check(paymentText.includes('REQUIRES_REVIEW') && paymentText.includes('payment.requiresReview'),
      'searching the transaction id opens the payment with its history');

    // -- the comparison: the sandbox saw the same payment approved
    await deliver(example('07-payment-review-approved.json'), 'sandbox');
    await waitFor('the sandbox payment', async () => (await adminGet(`/api/payments/${txid}`)).body?.length === 2);
    await page.click('#compare-refresh');
    const difference = page.locator(`#compare td:text-is("${review.transaction.externalId}")`);
    await difference.waitFor();
    const compareText = await page.textContent('#compare');
    check(compareText.includes('payment.reviewApproved') && compareText.includes('sandbox'),
      'the comparison lists both sources and the payment whose status differs');

    // -- a dead letter, redriven
    const failing = example('12-unknown-future-event.json');
    await deliver(failing);
    const deadRow = page.locator(`#dead tbody tr:has(td:text-is("${failing.transaction.id}"))`);
    await deadRow.waitFor();
    const deadId = await deadRow.getAttribute('data-event-id');
    check(Number(deadId) > 0, `the failing ${failing.eventType} shows in the dead letters as event ${deadId}`);
    if (shots) {
      fs.mkdirSync(shots, { recursive: true });
      await page.screenshot({ path: path.join(shots, 'dashboard.png'), fullPage: true });
      await page.locator('#search-result').screenshot({ path: path.join(shots, 'dashboard-search.png') });
      ok(`screenshots written to ${shots}`);
    }
    fs.writeFileSync(receiver.marker, '');
    await page.click(`#dead tbody tr[data-event-id="${deadId}"] button[data-testid=redrive]`);
    await page.waitForSelector(`#dead tbody tr[data-event-id="${deadId}"]`, { state: 'detached' });
    check(/queued/.test(await page.textContent('#redrive-message')), `Redrive takes event ${deadId} off the dead list`);
    await waitFor(`event ${deadId} to run`, async () => (await adminGet(`/api/events/${deadId}`)).body?.status === 'done');
    ok(`the service ran event ${deadId} again, and it is done`);

    // -- hostile strings render as text
    const hostile = example('06-payment-requires-review.json');
    hostile.transaction.id = 'xss-0000000000000000000001';
    hostile.transaction.customerId = XSS_SCRIPT;
    hostile.transaction.documentationStatus = XSS_ATTR;
    hostile.transaction.currency = XSS_ATTR;
    hostile.transaction.externalId = XSS_SCRIPT;
    await deliver(hostile);
    const hostileRow = page.locator(`#reviews tbody tr[data-transaction="${hostile.transaction.id}"]`);
    await hostileRow.waitFor();
    const hostileCells = await hostileRow.locator('td').allTextContents();
    check(hostileCells.includes(XSS_SCRIPT) && hostileCells.includes(XSS_ATTR),
      'payload strings holding <script> and "><img onerror> show as literal text');
    await page.fill('#search', XSS_SCRIPT);
    await page.click('#search-form button[type=submit]');
    await page.waitForFunction(() => /Not found/.test(document.getElementById('search-result').textContent));
    check((await page.textContent('#search-result')).includes(XSS_SCRIPT), 'a search miss echoes the query as text');
    await page.waitForTimeout(500); // one more poll: give any injected handler a chance to run
    check(await page.evaluate(() => window.__xss === undefined), 'no injected script ran (window.__xss is undefined)');
    check(await page.locator('img, #dashboard script').count() === 0, 'no <img> or <script> element was created');

    // -- a token that stops working returns to the sign-in
    await page.route('**/api/compare?*', (route) => route.fulfill({
      status: 400, contentType: 'application/json',
      body: '{"error":"bad_parameter","parameter":"b","reason":"no source named sandbox"}',
    }));
    await page.click('#compare-refresh');
    await page.waitForFunction(() => /No comparison/.test(document.getElementById('compare').textContent));
    ok('a 400 from the comparison (no such source) shows an explanatory empty state');
    await page.unroute('**/api/compare?*');

    await page.evaluate((k) => sessionStorage.setItem(k, 'fake-token-that-was-revoked'), TOKEN_KEY);
    await page.waitForSelector('#signin-view', { state: 'visible' });
    check(/Signed out/.test(await page.textContent('#signin-error')) && (await page.isHidden('#dashboard')),
      `a 401 while polling returns to the sign-in: "${await page.textContent('#signin-error')}"`);
    check(await page.evaluate((k) => sessionStorage.getItem(k) === null, TOKEN_KEY), 'and forgets the token');

    const csps = await page.evaluate(() => window.__csp);
    check(csps.length === 0, `no Content-Security-Policy violation ${JSON.stringify(csps)}`);
    check(problems.length === 0, `no page error, console error, 5xx answer or dialog ${JSON.stringify(problems)}`);
    passed = true;
  } catch (e) {
    console.error(`not ok - ${e.message}`);
  } finally {
    clearTimeout(watchdog);
    if (browser) await browser.close().catch(() => {});
    await stopReceiver(receiver);
    if (passed) fs.rmSync(dir, { recursive: true, force: true });
    else {
      console.error(`kept ${dir}; receiver log tail:`);
      try {
        console.error(fs.readFileSync(path.join(dir, 'receiver.log'), 'utf8').split('\n').slice(-30).join('\n'));
      } catch {
        console.error('(no log)');
      }
    }
  }
  console.log(`${passed ? 'PASS' : 'FAIL'}: ${checks} checks in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return passed ? 0 : 1;
}

process.exitCode = await main();
