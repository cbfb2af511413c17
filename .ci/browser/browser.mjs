// Tally's pages in a real browser (.ci/browser.sh runs this): Debian's chromium, headless,
// driven by playwright-core, against the release binary serving the demo world.
//   node browser.mjs <tally binary> <work dir> <out dir>
// Starts two static servers (the second origins of the CORS checks) and Tally with
// `--demo` on free ports, then checks GraphiQL, the dashboard (creator and personal
// account), CORS from a listed and an unlisted origin, and GraphiQL's CDN mode, with
// axe-core on every page. Screenshots go to <out dir>/screenshots/. Exits 1 if any check
// failed, after running them all.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { AxeBuilder } from '@axe-core/playwright';
import { chromium } from 'playwright-core';

const [BIN, WORK, OUT] = process.argv.slice(2);
if (!BIN || !WORK || !OUT) {
  console.error('usage: node browser.mjs <tally binary> <work dir> <out dir>');
  process.exit(2);
}
const HERE = path.dirname(fileURLToPath(import.meta.url));
const SHOTS = path.join(OUT, 'screenshots');
mkdirSync(SHOTS, { recursive: true });
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const PASSWORD = 'demo-password';
const DANCE = 'Rooftop dance at sunset';

// ---- Checks ---------------------------------------------------------------------------

const failures = [];
let checks = 0;

/** Records one check: `ok`, or a failure with `detail`. */
function check(name, ok, detail = '') {
  checks += 1;
  if (ok) {
    console.log(`  ok    ${name}`);
  } else {
    console.log(`  FAIL  ${name}${detail ? `: ${detail}` : ''}`);
    failures.push(name);
  }
}

function equal(name, actual, expected) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  check(name, a === e, `got ${a}, expected ${e}`);
}

/** Runs a group of checks; an exception fails the group instead of stopping the run. */
async function group(title, body) {
  console.log(`== ${title}`);
  try {
    await body();
  } catch (e) {
    check(`${title} (ran to the end)`, false, e.stack || String(e));
  }
}

// ---- Processes and servers ------------------------------------------------------------

const children = [];
const servers = [];

/** Starts Tally with `env` and waits for the line announcing its address; its base URL and
 *  all it printed before. */
async function startTally(name, args, env) {
  const child = spawn(BIN, args, {
    env: {
      ...process.env,
      DATABASE_URL: `sqlite://${path.join(WORK, `${name}.db`)}?mode=rwc`,
      TALLY_BIND: '127.0.0.1:0',
      RUST_LOG: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  let out = '';
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: no address within 120 s:\n${out}`)), 120_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/(?:GraphiQL|GraphQL): (http:\/\/127\.0\.0\.1:\d+)\//);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => reject(new Error(`${name} exited (${code}) at start-up:\n${out}`)));
  });
  return { base, out };
}

/** A static file server for the cross-origin page on a free port of 127.0.0.1; its origin. */
async function startStaticServer() {
  const files = {
    '/cors.html': ['text/html; charset=utf-8', readFileSync(path.join(HERE, 'cors.html'))],
    '/cors.js': ['text/javascript; charset=utf-8', readFileSync(path.join(HERE, 'cors.js'))],
  };
  const server = http.createServer((req, res) => {
    const file = files[new URL(req.url, 'http://x').pathname];
    if (!file) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'Content-Type': file[0] }).end(file[1]);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  return `http://127.0.0.1:${server.address().port}`;
}

/** A GraphQL request straight to Tally (not through a page): its parsed body. */
async function graphql(base, token, query, variables = {}) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const r = await fetch(`${base}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  return r.json();
}

async function data(base, token, query, variables) {
  const body = await graphql(base, token, query, variables);
  if (body.errors) throw new Error(`${query}: ${JSON.stringify(body.errors)}`);
  return body.data;
}

// ---- Browser helpers ------------------------------------------------------------------

/** A fresh browser context whose pages log every request and every CSP violation. */
async function newPage(browser, options = {}) {
  const context = await browser.newContext(options);
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`);
    });
  });
  const page = await context.newPage();
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('response', (r) => { if (r.status() >= 400) errors.push(`HTTP ${r.status()} for ${r.url()}`); });
  return { context, page, requests, errors };
}

/** The requests of `urls` that went to a host other than 127.0.0.1 (`data:` URLs are no
 *  requests on the network: the stylesheet's inlined fonts). */
function offHost(urls) {
  return urls.filter((u) => {
    const url = new URL(u);
    if (url.protocol === 'data:') return false;
    return url.hostname !== '127.0.0.1';
  });
}

/** axe-core's serious and critical violations on `page`. */
async function accessibility(page, name) {
  const result = await new AxeBuilder({ page }).analyze();
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const detail = bad.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`).join('; ');
  check(`${name}: axe-core finds no serious or critical violation (${result.passes.length} rules pass)`, bad.length === 0, detail);
  const minor = result.violations.filter((v) => !bad.includes(v));
  if (minor.length) console.log(`        (minor: ${minor.map((v) => `${v.id}/${v.impact}`).join(', ')})`);
}

async function noCspViolations(page, name) {
  const violations = await page.evaluate(() => window.__cspViolations);
  equal(`${name}: no Content-Security-Policy violation`, violations, []);
}

async function shoot(page, file) {
  await page.screenshot({ path: path.join(SHOTS, file), fullPage: true });
  console.log(`        screenshot ${path.join(SHOTS, file)}`);
}

/** Sets the text of the CodeMirror editor shown inside `selector` (GraphiQL keeps the
 *  editor of the tab not chosen, variables or headers, under `.hidden`). */
async function setEditor(page, selector, text) {
  const shown = `${selector} .graphiql-editor:not(.hidden) .CodeMirror`;
  await page.locator(shown).waitFor();
  await page.evaluate(([sel, value]) => document.querySelector(sel).CodeMirror.setValue(value), [shown, text]);
}

// ---- The checks -----------------------------------------------------------------------

const LIKERS = `query Likers($id: ID!) {
  video(id: $id) {
    caption likeCount
    visibleLikers(first: 20) { totalCount hiddenCount edges { node { handle } } }
  }
}`;

const MY_VIDEOS = `{ viewer { handle videos(first: 50) { edges { node { id caption } } } } }`;

async function main() {
  const listed = await startStaticServer();
  const unlisted = await startStaticServer();
  const { base, out } = await startTally('demo', ['serve', '--demo'], { TALLY_CORS_ORIGINS: listed });
  const token = (handle) => {
    const m = out.match(new RegExp(`Token for @${handle.replace('.', '\\.')}[^\\n]*\\n\\s*\\{"Authorization": "Bearer ([^"]+)"\\}`));
    if (!m) throw new Error(`no token for @${handle} in the demo's output:\n${out}`);
    return m[1];
  };
  const maya = token('maya.creates');
  const ana = token('ana');
  console.log(`Tally at ${base} (demo); second origins ${listed} (listed in TALLY_CORS_ORIGINS) and ${unlisted} (not)`);

  // What the API itself says, to hold the pages to.
  const mine = await data(base, maya, MY_VIDEOS);
  const dance = mine.viewer.videos.edges.map((e) => e.node).find((v) => v.caption === DANCE);
  if (!dance) throw new Error(`the demo has no video "${DANCE}"`);
  const truth = (await data(base, maya, LIKERS, { id: dance.id })).video.visibleLikers;
  console.log(`The API: "${DANCE}" shows @maya.creates ${truth.totalCount} likers and hides ${truth.hiddenCount}`);
  if (truth.hiddenCount < 1) throw new Error('the demo video should have likers hidden from its author');

  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  try {
    await group('GraphiQL, offline', () => graphiqlOffline(browser, base, maya, dance, truth));
    await group('dashboard, as the creator @maya.creates', () => dashboardCreator(browser, base, maya, truth));
    await group('dashboard, as the personal account @ana', () => dashboardPersonal(browser, base, ana, maya));
    await group('CORS from a second origin', () => cors(browser, base, listed, unlisted, maya));
    await group('GraphiQL, TALLY_GRAPHIQL_CDN=1 (the network check catches the CDN)', () => graphiqlCdn(browser));
  } finally {
    await browser.close();
  }
}

async function graphiqlOffline(browser, base, maya, dance, truth) {
  const { context, page, requests, errors } = await newPage(browser, { viewport: { width: 1280, height: 900 } });
  const response = await page.goto(`${base}/graphiql`);
  equal('GET /graphiql is 200', response.status(), 200);
  await page.locator('.graphiql-container').waitFor({ timeout: 20_000 });
  check('GraphiQL renders', await page.locator('.graphiql-execute-button').isVisible());
  const query = `query Likers($id: ID!) {\n  video(id: $id) {\n    caption\n    visibleLikers(first: 20) {\n      totalCount\n      hiddenCount\n      edges { node { handle } }\n    }\n  }\n}`;
  await setEditor(page, '.graphiql-query-editor', query);
  await page.getByRole('button', { name: 'Variables' }).first().click();
  await setEditor(page, '.graphiql-editor-tool', JSON.stringify({ id: dance.id }));
  await page.getByRole('button', { name: 'Headers' }).first().click();
  await setEditor(page, '.graphiql-editor-tool', JSON.stringify({ Authorization: `Bearer ${maya}` }));
  await page.locator('.graphiql-execute-button').click();
  const result = page.locator('.result-window');
  await result.getByText('hiddenCount').first().waitFor({ timeout: 20_000 });
  const text = await page.evaluate(() => document.querySelector('.result-window .CodeMirror').CodeMirror.getValue());
  const shown = JSON.parse(text).data.video.visibleLikers;
  equal('the result pane shows the likers the API shows', shown.edges.map((e) => e.node.handle), truth.edges.map((e) => e.node.handle));
  equal('the result pane shows hiddenCount', shown.hiddenCount, truth.hiddenCount);
  const away = offHost(requests);
  check(`every request stayed on 127.0.0.1 (${requests.length} requests)`, away.length === 0, away.join(', '));
  const own = requests.filter((u) => u.startsWith(`${base}/graphiql/assets/`));
  check('the bundles came from /graphiql/assets/', own.some((u) => u.includes('graphiql.min.js')) && own.some((u) => u.includes('react-dom')), own.join(', '));
  check('the token is in no URL', !requests.some((u) => u.includes(maya)) && !page.url().includes(maya));
  await noCspViolations(page, 'GraphiQL');
  equal('GraphiQL: no script error', errors, []);
  await shoot(page, 'graphiql.png');
  await accessibility(page, 'GraphiQL');
  await context.close();
}

/** Signs in on the dashboard with the keyboard: types the handle and password, presses Enter. */
async function signIn(page, handle) {
  await page.locator('#handle').waitFor();
  await page.locator('#handle').focus();
  await page.keyboard.type(handle);
  await page.keyboard.press('Tab');
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press('Enter');
  await page.locator('#dashboard:not([hidden])').waitFor({ timeout: 20_000 });
}

async function dashboardCreator(browser, base, maya, truth) {
  const { context, page, requests, errors } = await newPage(browser, { viewport: { width: 1280, height: 900 } });
  const response = await page.goto(`${base}/dashboard`);
  equal('GET /dashboard is 200', response.status(), 200);
  await accessibility(page, 'dashboard sign-in');
  await signIn(page, 'maya.creates');
  await page.locator('#heatmap td.heat').first().waitFor({ timeout: 20_000 });

  const expected = (await data(base, maya, `{ creatorAnalytics(window: LAST_28_DAYS) {
    daily { day } totals { views }
    audience { viewers { available } likers { available withheldReason } followers { available } }
    topVideos(first: 10) { video { caption } stats { ownPercentile } }
  } }`)).creatorAnalytics;

  // The chart.
  equal('three line charts (views, likes, new followers)', await page.locator('#daily-charts svg.line-chart').count(), 3);
  const points = async () => page.$$eval('#daily-charts polyline', (ls) => ls.map((l) => l.getAttribute('points').trim().split(/\s+/).length));
  equal('each line has a point per day of the 28-day window', await points(), Array(3).fill(expected.daily.length));
  const viewsShown = await page.locator('#totals .total').first().locator('dd').textContent();
  equal('the views total is the API\'s', viewsShown.replace(/,/g, ''), String(expected.totals.views));
  await page.locator('#window').selectOption('LAST_7_DAYS');
  await page.waitForFunction(() => document.querySelector('#daily-charts polyline').getAttribute('points').trim().split(/\s+/).length === 7);
  equal('choosing the 7-day window redraws the chart with 7 days', await points(), [7, 7, 7]);
  await page.locator('#window').selectOption('LAST_60_DAYS');
  await page.waitForFunction(() => document.querySelector('#daily-charts polyline').getAttribute('points').trim().split(/\s+/).length === 60);
  check('the 60-day window shows the demo\'s history (views on the chart)', (await page.locator('#totals .total dd').first().textContent()) !== '0');

  // The heat map.
  equal('the heat map has 168 cells', await page.locator('#heatmap td.heat').count(), 168);
  equal('the heat map has 7 rows', await page.locator('#heatmap tbody tr').count(), 7);
  check('the heat map is shaded (some hour above the lowest level)', (await page.locator('#heatmap td.heat:not(.heat-0)').count()) > 0);

  // The audience.
  equal('three breakdowns (viewers, likers, followers)', await page.locator('#audience .breakdown').count(), 3);
  const withheld = await page.$$eval('#audience .breakdown.withheld', (bs) => bs.map((b) => b.id));
  const expectedWithheld = ['viewers', 'likers', 'followers'].filter((k) => !expected.audience[k].available).map((k) => `breakdown-${k}`);
  equal('the withheld breakdowns are the ones the API withholds', withheld, expectedWithheld);
  check('the demo withholds one breakdown', expectedWithheld.length === 1, expectedWithheld.join(', '));
  const reason = await page.locator('#audience .breakdown.withheld .withheld-reason').first().textContent();
  check('the withheld breakdown says why', /minimum audience/i.test(reason), reason);
  check('the shown breakdowns have bars', (await page.locator('#audience .breakdown:not(.withheld) .bars li').count()) > 0);

  // Top videos (the window is back to 28 days for the comparison).
  await page.locator('#window').selectOption('LAST_28_DAYS');
  await page.waitForFunction(() => document.querySelector('#daily-charts polyline').getAttribute('points').trim().split(/\s+/).length === 28);
  const rows = await page.$$eval('#top-videos tbody tr', (trs) => trs.map((tr) => ({
    caption: tr.querySelector('th button').textContent,
    own: tr.querySelector('.own-percentile').textContent,
  })));
  equal('top videos are the API\'s, in its order', rows.map((r) => r.caption), expected.topVideos.map((t) => t.video.caption));
  equal('top videos show their own percentile', rows.map((r) => r.own), expected.topVideos.map((t) => (t.stats.ownPercentile === null ? '—' : String(Math.round(t.stats.ownPercentile)))));

  // A video's likers, opened with the keyboard.
  const button = page.locator('#video-list button', { hasText: DANCE });
  await button.focus();
  await page.keyboard.press('Enter');
  await page.locator('#liker-list li').first().waitFor({ timeout: 20_000 });
  const likers = await page.$$eval('#liker-list li', (lis) => lis.map((li) => li.textContent));
  equal('the likers shown are the API\'s visible likers', likers.length, truth.edges.length);
  check('each visible liker is named', truth.edges.every((e) => likers.some((l) => l.includes(`@${e.node.handle}`))), likers.join(' | '));
  equal('"and N others" has the API\'s hiddenCount', await page.locator('#likers-hidden').textContent(), `and ${truth.hiddenCount} others who keep their likes private`);
  check('focus moved to the likers', await page.evaluate(() => document.activeElement.id === 'likers-title'));

  // The token.
  const stored = await page.evaluate(() => sessionStorage.getItem('tally.dashboard.token'));
  check('the token is kept in sessionStorage', typeof stored === 'string' && stored.length > 20);
  check('the token is in no URL', !requests.some((u) => u.includes(stored)) && !page.url().includes(stored));
  check('the password is in no URL', !requests.some((u) => u.includes(PASSWORD)));
  const away = offHost(requests);
  check(`every request stayed on 127.0.0.1 (${requests.length} requests)`, away.length === 0, away.join(', '));
  await noCspViolations(page, 'dashboard');
  equal('dashboard: no script error', errors, []);
  await shoot(page, 'dashboard-creator.png');
  await accessibility(page, 'dashboard (creator)');

  // A phone's width.
  await page.setViewportSize({ width: 360, height: 740 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  check('at 360 px wide nothing overflows the page', overflow <= 360, `scrollWidth ${overflow}`);
  await shoot(page, 'dashboard-creator-phone.png');
  await accessibility(page, 'dashboard (creator, 360 px)');
  await context.close();
}

async function dashboardPersonal(browser, base, ana, maya) {
  // Ana posts a video and Maya likes it: her dashboard has a video with a liker to show.
  const posted = await data(base, ana, 'mutation { createVideo(input: {mediaUrl: "https://media.example.com/v.mp4", caption: "Ana at the beach"}) { id } }');
  await data(base, maya, 'mutation Like($id: ID!) { likeVideo(videoId: $id) { likeCount } }', { id: posted.createVideo.id });
  const forbidden = await graphql(base, ana, '{ creatorAnalytics { totals { views } } }');
  equal('the API answers FORBIDDEN to creatorAnalytics for @ana', forbidden.errors && forbidden.errors[0].extensions.code, 'FORBIDDEN');

  const { context, page, errors } = await newPage(browser, { viewport: { width: 1280, height: 900 } });
  await page.goto(`${base}/dashboard`);
  await signIn(page, 'ana');
  await page.locator('#video-list button').first().waitFor({ timeout: 20_000 });
  check('no analytics are shown', await page.locator('#analytics').isHidden());
  check('the page says analytics are for creators', await page.locator('#no-analytics').isVisible());
  equal('no heat map cell exists', await page.locator('#heatmap td').count(), 0);
  await page.locator('#video-list button', { hasText: 'Ana at the beach' }).click();
  await page.locator('#liker-list li').first().waitFor({ timeout: 20_000 });
  check('@ana sees who liked her video', (await page.locator('#liker-list').textContent()).includes('@maya.creates'));
  equal('dashboard (personal): no script error', errors, []);
  await noCspViolations(page, 'dashboard (personal)');
  await shoot(page, 'dashboard-personal.png');
  await accessibility(page, 'dashboard (personal)');
  await context.close();
}

async function cors(browser, base, listed, unlisted, maya) {
  const query = '{ viewer { handle } }';
  for (const [origin, allowed] of [[listed, true], [unlisted, false]]) {
    const { context, page } = await newPage(browser);
    await page.goto(`${origin}/cors.html`);
    const outcome = await page.evaluate(([url, token, q]) => window.callTally(url, token, q), [`${base}/graphql`, maya, query]);
    if (allowed) {
      equal(`${origin} (listed) reads the answer of a query with a token`, outcome.data, { viewer: { handle: 'maya.creates' } });
    } else {
      check(`${origin} (unlisted) is refused by the browser`, outcome.error !== undefined && outcome.data === undefined, JSON.stringify(outcome));
    }
    await context.close();
  }
}

async function graphiqlCdn(browser) {
  const { base } = await startTally('cdn', ['serve'], { TALLY_GRAPHIQL_CDN: '1' });
  const { context, page, requests } = await newPage(browser);
  // No network beyond 127.0.0.1 here: every other request is answered at once with an error.
  await context.route((url) => url.hostname !== '127.0.0.1', (route) => route.abort());
  await page.goto(`${base}/graphiql`, { waitUntil: 'domcontentloaded' });
  const tags = await page.$$eval('script[src^="https://"], link[href^="https://"]', (ts) => ts.map((t) => ({
    url: t.getAttribute('src') || t.getAttribute('href'),
    integrity: t.getAttribute('integrity'),
    crossorigin: t.getAttribute('crossorigin'),
  })));
  check('the CDN page has 4 tags from unpkg.com', tags.length === 4 && tags.every((t) => t.url.startsWith('https://unpkg.com/')), JSON.stringify(tags));
  check('each carries a sha384 integrity hash and crossorigin', tags.every((t) => /^sha384-[A-Za-z0-9+/]{64}$/.test(t.integrity) && t.crossorigin === 'anonymous'), JSON.stringify(tags));
  await page.waitForLoadState('load');
  const away = offHost(requests);
  check('the network check sees the requests to unpkg.com', away.length === 4 && away.every((u) => u.startsWith('https://unpkg.com/')), away.join(', '));
  await context.close();
}

// ---- Run ------------------------------------------------------------------------------

const started = Date.now();
try {
  await main();
} catch (e) {
  check('set-up', false, e.stack || String(e));
} finally {
  for (const child of children) child.kill('SIGTERM');
  for (const server of servers) server.close();
}
const seconds = ((Date.now() - started) / 1000).toFixed(1);
if (failures.length) {
  console.log(`== ${failures.length} of ${checks} browser checks FAILED (${seconds} s): ${failures.join('; ')}`);
  process.exit(1);
}
console.log(`== all ${checks} browser checks passed (${seconds} s)`);
