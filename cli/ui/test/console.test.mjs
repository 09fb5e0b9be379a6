// The mega console in a real browser: `mega local --ui` on free ports, queues and a topic made over the
// endpoint's own HTTP API (no AWS CLI), then headless Chromium (Debian's, never downloaded) driven by
// playwright-core: see the queues, peek a BSON message shown decoded, send one, redrive a dead-letter queue
// after typing its name, check a message against a subscription's filter policy. Screenshots are kept.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../../..");
const targetDir = process.env.CARGO_TARGET_DIR || path.join(root, "target");
const mega = process.env.MEGA_BIN || path.join(targetDir, "debug", "mega");
const chromiumPath = process.env.CHROMIUM || ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find(existsSync);
const shots = process.env.MEGA_UI_SCREENSHOTS || path.join(root, "target", "ui-screenshots");

let server; // the `mega local --ui` process
let endpoint; // http://127.0.0.1:PORT (SQS + SNS)
let consoleUrl; // http://127.0.0.1:PORT/
let browser;
const saved = [];

function startMega() {
  return new Promise((resolve, reject) => {
    const child = spawn(mega, ["local", "--port", "0", "--ui", "--ui-port", "0"], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, AWS_ENDPOINT_URL: "" },
    });
    let out = "";
    const timer = setTimeout(() => reject(new Error(`mega local did not start: ${out}`)), 30000);
    const fail = (e) => { clearTimeout(timer); reject(e); };
    child.on("error", fail);
    child.on("exit", (code) => fail(new Error(`mega local exited (${code}): ${out}`)));
    child.stdout.on("data", (d) => {
      out += d;
      const ep = out.match(/SQS and SNS endpoint on (http:\/\/127\.0\.0\.1:\d+)/);
      const ui = out.match(/web console: (http:\/\/127\.0\.0\.1:\d+\/)/);
      if (ep && ui) {
        clearTimeout(timer);
        resolve({ child, endpoint: ep[1], consoleUrl: ui[1] });
      }
    });
  });
}

// SQS over its JSON protocol, as any SDK speaks it.
async function sqs(action, input) {
  const res = await fetch(endpoint, {
    method: "POST",
    headers: { "content-type": "application/x-amz-json-1.0", "x-amz-target": `AmazonSQS.${action}` },
    body: JSON.stringify(input),
  });
  const body = await res.json();
  if (!res.ok) throw new Error(`${action}: ${JSON.stringify(body)}`);
  return body;
}

// SNS over its Query protocol.
async function sns(params) {
  const res = await fetch(endpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(params).toString(),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${params.Action}: ${text}`);
  return text;
}

async function depth(url) {
  const a = await sqs("GetQueueAttributes", { QueueUrl: url, AttributeNames: ["All"] });
  return Number(a.Attributes.ApproximateNumberOfMessages) + Number(a.Attributes.ApproximateNumberOfMessagesNotVisible);
}

function megaPublish(args, input) {
  return execFileSync(mega, ["publish", ...args, "--endpoint-url", endpoint], {
    input: input ?? "",
    encoding: "utf8",
    timeout: 30000,
    env: { ...process.env, AWS_ENDPOINT_URL: "", AWS_PROFILE: "", AWS_ACCESS_KEY_ID: "" },
  });
}

async function shot(page, name) {
  const file = path.join(shots, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  saved.push(file);
}

const EVENT = JSON.stringify({
  protocol: "mega", version: 1,
  event: { name: "item.added", timestamp: "2020-05-04T15:53:27.823Z" },
  object: { current: { id: 42, price: { $decimal: "377.37" } } },
});

let urls = {};

before(async () => {
  assert.ok(existsSync(mega), `no mega binary at ${mega} (cargo build -p sqs-mega-cli, or set MEGA_BIN)`);
  assert.ok(chromiumPath, "no chromium (apt-get install chromium, or set CHROMIUM)");
  mkdirSync(shots, { recursive: true });
  ({ child: server, endpoint, consoleUrl } = await startMega());

  // inbox: one BSON MEGA event. orders -> orders-dlq after 1 receive: three dead letters.
  urls.inbox = (await sqs("CreateQueue", { QueueName: "inbox" })).QueueUrl;
  urls.dlq = (await sqs("CreateQueue", { QueueName: "orders-dlq" })).QueueUrl;
  const dlqArn = (await sqs("GetQueueAttributes", { QueueUrl: urls.dlq, AttributeNames: ["QueueArn"] })).Attributes.QueueArn;
  urls.orders = (await sqs("CreateQueue", {
    QueueName: "orders",
    Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: "1" }) },
  })).QueueUrl;
  megaPublish(["--queue", "inbox", "--bson", "--attr", "color=red", EVENT]);
  megaPublish(["--queue", "orders", "--lines"], '{"order":1}\n{"order":2}\n{"order":3}\n');
  const deadline = Date.now() + 20000;
  while ((await depth(urls.dlq)) < 3) {
    assert.ok(Date.now() < deadline, "the orders did not reach the dead-letter queue");
    await sqs("ReceiveMessage", { QueueUrl: urls.orders, MaxNumberOfMessages: 10, VisibilityTimeout: 0 });
  }
  assert.equal(await depth(urls.orders), 0);

  // A topic with a filtered subscription to inbox.
  const topicXml = await sns({ Action: "CreateTopic", Name: "prices" });
  urls.topic = topicXml.match(/<TopicArn>([^<]+)<\/TopicArn>/)[1];
  const inboxArn = (await sqs("GetQueueAttributes", { QueueUrl: urls.inbox, AttributeNames: ["QueueArn"] })).Attributes.QueueArn;
  await sns({
    Action: "Subscribe", TopicArn: urls.topic, Protocol: "sqs", Endpoint: inboxArn,
    "Attributes.entry.1.key": "FilterPolicy", "Attributes.entry.1.value": JSON.stringify({ color: ["red"] }),
  });

  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (server) {
    server.removeAllListeners("exit");
    server.kill("SIGTERM");
  }
  for (const f of saved) console.log(`screenshot: ${f}`);
});

test("the console shows queues, a decoded BSON message, redrives a DLQ and checks a filter policy", async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console: ${m.text()}`); });
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()}`));
  page.on("request", (r) => {
    if (!r.url().startsWith(consoleUrl)) problems.push(`request outside the console: ${r.url()}`);
  });
  await page.goto(consoleUrl);

  // The queues, with live depth.
  const row = (name) => page.locator(`#queues tr[data-queue="${name}"]`);
  await row("orders-dlq").waitFor({ timeout: 15000 });
  assert.equal(await row("inbox").locator('[data-testid="visible"]').textContent(), "1");
  assert.equal(await row("orders-dlq").locator('[data-testid="visible"]').textContent(), "3");
  assert.match(await row("orders-dlq").textContent(), /DLQ/);
  assert.match(await page.locator("#topics").textContent(), /prices/);
  await shot(page, "1-queues");

  // Peek the BSON message: decoded, not consumed.
  await row("inbox").click();
  await page.locator("#peek").click();
  const message = page.locator('[data-testid="message"]').first();
  await message.waitFor({ timeout: 15000 });
  assert.equal(await message.locator('[data-testid="kind"]').textContent(), "mega");
  assert.equal(await message.locator('[data-testid="encoding"]').textContent(), "bson");
  const payload = JSON.parse(await message.locator('[data-testid="payload"]').textContent());
  assert.equal(payload.event.name, "item.added");
  assert.deepEqual(payload.object.current.price, { $decimal: "377.37" });
  assert.match(await message.locator('[data-testid="attributes"]').textContent(), /color \(String\) = red/);
  assert.equal(await depth(urls.inbox), 1, "peeking does not consume");
  assert.doesNotMatch(await page.locator("#queue-panel").textContent(), /null|undefined/);
  await shot(page, "2-peek-bson-decoded");

  // Traffic shows in the throughput chart (the embedded endpoint counts sends, receives, deletes).
  megaPublish(["--queue", "inbox", "--lines"], Array.from({ length: 20 }, (_, i) => `{"n":${i}}`).join("\n"));
  await page.waitForFunction(() => document.querySelector("#chart").dataset.kind === "throughput" &&
    /sent/.test(document.querySelector("#chart-caption").textContent), null, { timeout: 20000 });
  await page.waitForTimeout(2500); // one more sample, for the picture
  await shot(page, "2b-throughput");
  await sqs("PurgeQueue", { QueueUrl: urls.inbox });
  megaPublish(["--queue", "inbox", "--bson", "--attr", "color=red", EVENT]);

  // Send a message from the page.
  await page.locator("#show-send").click();
  await page.locator("#send-body").fill('{"sent": "from the console"}');
  await page.locator("#send-format").selectOption("bson");
  await page.locator('[data-testid="send"]').click();
  await page.locator("#send-result.ok").waitFor({ timeout: 15000 });
  assert.equal(await depth(urls.inbox), 2);

  // Purge asks for the name: cancelling leaves the queue alone.
  await page.locator("#purge").click();
  await page.locator("#confirm-input").fill("inbox");
  await page.locator('[data-testid="confirm-cancel"]').click();
  assert.equal(await depth(urls.inbox), 2, "a cancelled purge purges nothing");
  // Confirmed, it purges.
  await page.locator("#purge").click();
  await page.locator("#confirm-input").fill("inbox");
  await page.locator('[data-testid="confirm-ok"]').click();
  await page.waitForFunction(() => /purged/.test(document.querySelector("#messages").textContent), null,
    { timeout: 15000 });
  assert.equal(await depth(urls.inbox), 0, "a confirmed purge empties the queue");

  // Redrive the DLQ: the confirm button stays disabled until the name is typed.
  await row("orders-dlq").click();
  await page.locator("#redrive").waitFor({ state: "visible" });
  await page.locator("#redrive").click();
  const ok = page.locator("#confirm-ok");
  assert.equal(await ok.isDisabled(), true);
  await page.locator("#confirm-input").fill("orders");
  assert.equal(await ok.isDisabled(), true, "a wrong name does not confirm");
  await page.locator("#confirm-input").fill("orders-dlq");
  await shot(page, "3-redrive-confirm");
  assert.equal(await ok.isDisabled(), false);
  await ok.click();
  await page.locator('#redrive-text[data-status="COMPLETED"]').waitFor({ timeout: 30000 });
  assert.match(await page.locator("#redrive-text").textContent(), /moved 3/);
  assert.equal(await depth(urls.dlq), 0, "the DLQ is empty");
  assert.equal(await depth(urls.orders), 3, "the messages are back in their source queue");
  await page.waitForFunction(
    () => document.querySelector('#queues tr[data-queue="orders-dlq"] [data-testid="visible"]')?.textContent === "0",
    null, { timeout: 15000 });
  await shot(page, "4-redrive-done");

  // A topic: its subscription and filter policy, and the matcher's verdict.
  await page.locator('#topics li[data-topic="prices"]').click();
  await page.locator("#subs pre").waitFor({ timeout: 15000 });
  assert.match(await page.locator("#subs").textContent(), /"color"/);
  await page.locator("#match-attrs").fill("color=red");
  await page.locator('[data-testid="match"]').click();
  await page.locator('[data-testid="match-result"]').waitFor({ timeout: 15000 });
  assert.match(await page.locator("#match-results").textContent(), /delivered \(matches/);
  await page.locator("#match-attrs").fill("color=blue");
  await page.locator('[data-testid="match"]').click();
  await page.waitForFunction(() => /filtered out/.test(document.querySelector("#match-results").textContent),
    null, { timeout: 15000 });
  await shot(page, "5-topic-filter-policy");

  assert.deepEqual(problems, [], problems.join("\n"));
});
