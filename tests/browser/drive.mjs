// Opens each URL given on the command line in its own tab of one headless Chromium (Debian's
// /usr/bin/chromium, or $SWARM_CHROMIUM), prints every console line of every page to stdout
// as `<tab index> <text>` (page errors as `<tab index> PAGEERROR <text>`), and keeps the
// browser open until stdin closes: the Rust test (tests/browser.rs) owns the scenario and
// reads what the pages say. Commands on stdin, one per line:
//   freeze <tab> <ms>   keeps the tab's thread busy for <ms> (no task, no timer of it runs
//                       meanwhile, as in a throttled background tab), then prints
//                       `<tab> THAWED`. (CDP's frozen lifecycle state does not stop timers
//                       in headless Chromium; a busy thread does.)
//   eval <id> <tab> <js>  evaluates the expression <js> in the tab and prints
//                       `EVAL <id> <JSON of the result>` (or `EVAL <id> ERROR <message>`).
//   shot <id> <tab> <path>  saves a full-page PNG screenshot, then prints `SHOT <id>`.
//   click <id> <tab> <selector>  clicks the element, then prints `CLICK <id>`.
import { chromium } from "playwright-core";
import { createInterface } from "node:readline";

const urls = process.argv.slice(2);
if (urls.length === 0) {
  console.error("usage: node drive.mjs <url>...");
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.SWARM_CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const close = async () => {
  await browser.close().catch(() => {});
  process.exit(0);
};
const pages = [];
const commands = createInterface({ input: process.stdin });
commands.on("close", close);
commands.on("line", async (line) => {
  const [command, tab, ms] = line.trim().split(/\s+/);
  const [, id, on, ...rest] = line.trim().split(" ");
  const arg = rest.join(" ");
  try {
    if (command === "eval") {
      const result = await pages[Number(on)].evaluate(arg);
      console.log(`EVAL ${id} ${JSON.stringify(result ?? null)}`);
    } else if (command === "shot") {
      await pages[Number(on)].screenshot({ path: arg, fullPage: true });
      console.log(`SHOT ${id}`);
    } else if (command === "click") {
      await pages[Number(on)].click(arg);
      console.log(`CLICK ${id}`);
    }
  } catch (error) {
    console.log(`${command.toUpperCase()} ${id} ERROR ${String(error.message).split("\n")[0]}`);
  }
  if (command === "freeze") {
    await pages[Number(tab)].evaluate((ms) => {
      const start = performance.now();
      while (performance.now() - start < ms) { /* the thread is taken */ }
    }, Number(ms));
    console.log(`${tab} THAWED`);
  }
});
for (const [index, url] of urls.entries()) {
  const page = await browser.newPage();
  pages.push(page);
  page.on("console", (message) => console.log(`${index} ${message.text()}`));
  page.on("pageerror", (error) => console.log(`${index} PAGEERROR ${error.message}`));
  await page.goto(url);
}
console.log("READY");
