// Opens eddy's live page in headless Chromium and checks that it shows a server at work.
//
//   node page.test.js URL SCREENSHOT.png
//
// URL is the page (e.g. http://127.0.0.1:PORT/_eddy) of a server that is under load while
// this runs; run.sh starts both. The page mirrors the figures it shows in `data-*`
// attributes, so every assertion below compares numbers, never pixels. Each check prints
// one line; the first failure exits 1 with what was expected and what was seen.
//
// The checks, in order: (1) the loop figures and the request count move between two
// samples; (2) the task table lists the connection tasks and sorts by a clicked column;
// (3) the timeline draws bars, hovering one names its task and wake, the wheel zooms;
// then the screenshot; (4) a ?token= in the page's URL reaches the event stream and the
// links. A page error or console error anywhere fails the run.
"use strict";

const { chromium } = require("playwright-core");
const fs = require("fs");
const os = require("os");
const path = require("path");

const [url, screenshot] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error("usage: node page.test.js URL SCREENSHOT.png");
  process.exit(2);
}
// Debian's Chromium; CHROMIUM overrides it for machines that keep it elsewhere.
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
// How long to wait for each thing the page should show: the server sends a sample every
// 0.5 s (the timeline every second), so 15 s is fifteen timelines late, not a tight race.
const WAIT_MS = 15000;

const t0 = Date.now();
const elapsed = () => ((Date.now() - t0) / 1000).toFixed(1) + " s";

function fail(message) {
  throw new Error(message);
}

async function main() {
  // A fresh profile, thrown away afterwards: nothing from an earlier run leaks in.
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    viewport: { width: 1280, height: 1000 },
    // The machine has no network: keep Chromium from trying to reach it.
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const problems = [];
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.on("pageerror", (e) => problems.push("page error: " + e.message));
    page.on("console", (m) => { if (m.type() === "error") problems.push("console error: " + m.text()); });
    const response = await page.goto(url, { waitUntil: "load", timeout: WAIT_MS });
    if (!response || response.status() !== 200) fail(`GET ${url}: status ${response && response.status()}`);
    console.log(`ok   [${elapsed()}] the page loads (${response.headers()["content-type"]})`);

    // 1. The loop figures move between two samples.
    await page.waitForFunction(() => +document.body.dataset.statsEvents >= 2, null, { timeout: WAIT_MS })
      .catch(() => fail("fewer than 2 stats events over the SSE stream in " + WAIT_MS + " ms"));
    const loops = () => page.$$eval(".loop", (cards) => cards.map((c) => ({
      id: c.dataset.loopId, ticks: +c.dataset.ticks, polls: +c.dataset.polls,
      ticksPerS: +c.dataset.ticksPerS, pollsPerS: +c.dataset.pollsPerS,
    })));
    const first = await loops();
    if (!first.length) fail("no loop card on the page");
    // Every loop moves: a loaded one between any two samples, an idle one (the kernel may
    // hand every connection to one loop) at least once a second, when the event stream
    // asks it for its timeline. So wait, within WAIT_MS, for each card's counters to pass
    // the first sample's.
    await page.waitForFunction((first) => first.every((a) => {
      const card = document.querySelector(`.loop[data-loop-id="${a.id}"]`);
      return card && +card.dataset.ticks > a.ticks && +card.dataset.polls > a.polls;
    }), first, { timeout: WAIT_MS }).catch(async () => {
      fail(`a loop did not move in ${WAIT_MS} ms: ${JSON.stringify(first)} → ${JSON.stringify(await loops())}`);
    });
    const second = await loops();
    for (const a of first) {
      const b = second.find((l) => l.id === a.id);
      console.log(`ok   [${elapsed()}] loop ${a.id} moves: ticks ${a.ticks} → ${b.ticks}, ${b.ticksPerS} ticks/s, ${b.pollsPerS} polls/s`);
    }
    // And the rates come from differencing samples: the busiest loop shows them.
    const busiest = second.reduce((x, y) => (y.pollsPerS > x.pollsPerS ? y : x));
    if (!(busiest.ticksPerS > 0 && busiest.pollsPerS > 0)) {
      fail(`no loop shows a rate: ${JSON.stringify(second)}`);
    }
    const server = await page.$eval("#server", (s) => ({ requests: +s.dataset.requests, reqPerS: +s.dataset.reqPerS }));
    if (!(server.requests > 0 && server.reqPerS > 0)) fail(`the server shows no requests: ${JSON.stringify(server)}`);
    console.log(`ok   [${elapsed()}] the server counts requests: ${server.requests}, ${server.reqPerS} req/s`);

    // 2. The task table lists the connection tasks.
    await page.waitForFunction(() => [...document.querySelectorAll("#tasks tbody tr")]
      .some((tr) => /connection/.test(tr.textContent)), null, { timeout: WAIT_MS })
      .catch(() => fail("the task table lists no connection task"));
    const table = await page.$eval("#tasks", (t) => ({
      rows: +t.dataset.rows,
      connections: [...t.tBodies[0].rows].filter((tr) => /connection/.test(tr.textContent)).length,
    }));
    console.log(`ok   [${elapsed()}] the task table lists ${table.rows} tasks, ${table.connections} of them connections`);
    // Sorting: a click on "polls" orders the column (biggest first), a second click reverses it.
    const pollsColumn = () => page.$$eval("#tasks tbody tr", (rows) =>
      rows.map((r) => +r.cells[3].textContent.replace(/[^0-9]/g, "")));
    await page.click('#tasks th[data-key="busy_ns"]');
    await page.click('#tasks th[data-key="polls"]');
    const desc = await pollsColumn();
    await page.click('#tasks th[data-key="polls"]');
    const asc = await pollsColumn();
    const sorted = (xs, cmp) => xs.every((x, i) => i === 0 || cmp(xs[i - 1], x));
    if (!sorted(desc, (a, b) => a >= b) || !sorted(asc, (a, b) => a <= b)) {
      fail(`sorting by polls failed: ${desc.slice(0, 5)}… then ${asc.slice(0, 5)}…`);
    }
    console.log(`ok   [${elapsed()}] ` + "the task table sorts by a clicked column, both ways");

    // 3. The timeline drew bars.
    await page.waitForFunction(() => +document.getElementById("timeline").dataset.bars > 0, null, { timeout: WAIT_MS })
      .catch(() => fail("the timeline drew no bars"));
    const timeline = await page.$eval("#timeline", (c) => ({ bars: +c.dataset.bars, parks: +c.dataset.parks }));
    console.log(`ok   [${elapsed()}] the timeline draws ${timeline.bars} poll bars and ${timeline.parks} parks`);
    // Hovering a bar names its task. sweep() moves a pointer along the first lane, right to
    // left, until the tooltip shows a poll whose text matches `want`: inside the page (one
    // round trip, not hundreds), then with Playwright's real pointer at the place it found.
    const box = await (await page.$("#timeline")).boundingBox();
    const sweep = async (want, from = box.width - 10) => {
      const x = await page.evaluate(([box, want, from]) => {
        const canvas = document.getElementById("timeline"), tip = document.getElementById("tip");
        for (let x = box.x + from; x > box.x + 60; x -= 1) {
          canvas.dispatchEvent(new MouseEvent("mousemove", { clientX: x, clientY: box.y + 17, bubbles: true }));
          if (tip.style.display === "block" && new RegExp(want).test(tip.textContent)) return x;
        }
        return null;
      }, [box, want, from]);
      if (x === null) return { x: null, text: "" };
      await page.mouse.move(x, box.y + 17);
      return { x, text: await page.$eval("#tip", (t) => (t.style.display === "block" ? t.textContent : "")) };
    };
    const middle = { x: box.x + box.width * 0.6, y: box.y + 17 };
    await page.mouse.move(middle.x, middle.y); // pauses the view
    const found = await sweep("^task ");
    const tipText = found.text;
    if (!/^task /.test(tipText)) fail("hovering the timeline's first lane showed no poll");
    console.log(`ok   [${elapsed()}] ` + "hovering a bar names it: " + tipText.split("\n").join(" | "));
    // The wheel zooms the paused view around the pointer (to see a wake's microseconds).
    // Around the bar found, so the zoomed view has polls in it.
    const spanBefore = +(await page.$eval("#timeline", (c) => c.dataset.spanNs));
    for (let i = 0; i < 8; i++) await page.mouse.wheel(0, -200);
    await page.waitForFunction((before) => +document.getElementById("timeline").dataset.spanNs < before / 10,
      spanBefore, { timeout: WAIT_MS }).catch(() => fail("the wheel did not zoom the timeline in"));
    const spanAfter = +(await page.$eval("#timeline", (c) => c.dataset.spanNs));
    console.log(`ok   [${elapsed()}] the wheel zooms the timeline: ${spanBefore / 1e6} ms → ${(spanAfter / 1e6).toFixed(1)} ms across`);

    // The picture for README: a fresh view, paused with the pointer on the lane labels, then
    // zoomed in to a few milliseconds around a poll of the busiest loop that a wake in the
    // window caused (the page's own view() and findWake() choose it, so the picture does not
    // depend on where a sweep lands), hovered so its tooltip and wake arrow show.
    await page.mouse.move(0, 0); // off the canvas: the view goes live again
    await page.waitForTimeout(1200); // two more samples
    await page.mouse.move(box.x + 10, box.y + 17);
    const target = await page.evaluate(() => {
      const v = view(), span = v.end - v.start, ids = [...tl.loops.keys()].sort((a, b) => a - b);
      let busiest = null;
      for (const id of ids) {
        const inView = tl.loops.get(id).polls.filter((p) => p[0] > v.start + span * 0.2 && p[0] < v.end - span * 0.2);
        if (!busiest || inView.length > busiest.polls.length) busiest = { id, polls: inView };
      }
      if (!busiest || !busiest.polls.length) return null;
      const caused = busiest.polls.filter((p) => {
        const cause = findWake(busiest.id, p);
        return cause && p[0] - cause.wake[0] > 0;
      });
      const poll = (caused.length ? caused : busiest.polls)[0];
      return { loopId: busiest.id, start: poll[0] };
    });
    // Where that poll's middle is in the current (paused) view, in page coordinates.
    const place = () => page.evaluate(({ loopId, start }) => {
      const poll = tl.loops.get(loopId).polls.find((p) => p[0] === start);
      const v = view(), r = document.getElementById("timeline").getBoundingClientRect();
      return { x: r.left + LABEL_W + ((poll[0] + poll[1] / 2 - v.start) / (v.end - v.start)) * (r.width - LABEL_W),
               y: r.top + laneY(loopId) + LANE_H / 2 };
    }, target);
    if (target) {
      let at = await place();
      await page.mouse.move(at.x, at.y);
      for (let i = 0; i < 14; i++) await page.mouse.wheel(0, -200);
      await page.waitForFunction(() => +document.getElementById("timeline").dataset.spanNs < 5e6, null,
        { timeout: WAIT_MS }).catch(() => fail("the wheel did not zoom the timeline in to 5 ms"));
      // The pointer sits on a whole pixel, up to half a pixel off the poll before the zoom:
      // forty times that after it. Place it on the poll again.
      at = await place();
      await page.mouse.move(at.x, at.y);
    }
    fs.mkdirSync(path.dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: false });
    console.log(`ok   [${elapsed()}] screenshot in ${screenshot}`);
    await page.mouse.move(0, 0);

    // 4. The token: a page opened with ?token=T passes T on to the event stream and to every
    // link, as a server off loopback requires. (This server is on loopback and ignores it;
    // the check is what the page asks for.)
    const tokenPage = await context.newPage();
    const asked = [];
    tokenPage.on("request", (r) => asked.push(r.url()));
    await tokenPage.goto(url + "?token=t%26k", { waitUntil: "load", timeout: WAIT_MS });
    await tokenPage.waitForFunction(() => +document.body.dataset.statsEvents >= 1, null, { timeout: WAIT_MS })
      .catch(() => fail("the page opened with ?token= got no stats event"));
    const events = asked.filter((u) => u.includes("/events"));
    if (!events.length || !events.every((u) => u.endsWith("/_eddy/events?token=t%26k"))) {
      fail(`the event stream was asked for without the token: ${events.join(", ") || "(never)"}`);
    }
    const links = await tokenPage.$$eval("header nav a", (as) => as.map((a) => a.href));
    if (!links.every((h) => h.endsWith("?token=t%26k"))) fail(`a link lacks the token: ${links.join(", ")}`);
    console.log(`ok   [${elapsed()}] ?token= is passed on to the event stream and the ${links.length} links`);
    await tokenPage.close();

    if (problems.length) fail("the page reported errors:\n  " + problems.join("\n  "));
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().then(
  () => console.log("browser test: passed"),
  (e) => {
    console.error("browser test FAILED: " + e.message);
    process.exit(1);
  },
);
