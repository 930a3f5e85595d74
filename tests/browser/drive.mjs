// Opens each URL given on the command line in its own tab of one headless Chromium (Debian's
// /usr/bin/chromium, or $SWARM_CHROMIUM), prints every console line of every page to stdout
// as `<tab index> <text>` (page errors as `<tab index> PAGEERROR <text>`), and keeps the
// browser open until stdin closes: the Rust test (tests/browser.rs) owns the scenario and
// reads what the pages say.
import { chromium } from "playwright-core";

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
process.stdin.on("end", close);
process.stdin.on("close", close);
process.stdin.resume();
for (const [index, url] of urls.entries()) {
  const page = await browser.newPage();
  page.on("console", (message) => console.log(`${index} ${message.text()}`));
  page.on("pageerror", (error) => console.log(`${index} PAGEERROR ${error.message}`));
  await page.goto(url);
}
console.log("READY");
