//! A headless Chromium driven by `tests/browser/drive.mjs` (Playwright): one tab per URL,
//! every console line kept for the test to read, and commands to evaluate an expression in a
//! tab, click, freeze a tab or save a screenshot. It needs only its sibling `wait.rs`, so the
//! hub's tests include both.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The checkout: the first directory up from this package that holds the driver.
fn checkout() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .find(|dir| dir.join("tests/browser/drive.mjs").is_file())
        .unwrap_or(here)
        .to_path_buf()
}

/// A headless Chromium with one tab per URL; closed when dropped.
pub struct Browser {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    _reader: std::thread::JoinHandle<()>,
    commands: u64,
}

impl Browser {
    /// Opens `urls`, each in a tab of its own, and waits until every page has said it loaded
    /// (a console line starting with `LOADED`, which the driver prefixes with the tab).
    pub async fn open(urls: &[String]) -> Browser {
        let root = checkout();
        assert!(
            root.join("tests/browser/node_modules/playwright-core")
                .is_dir(),
            "playwright-core is not installed: run `npm ci` in tests/browser (scripts/test does)"
        );
        let mut child = Command::new("node")
            .arg(root.join("tests/browser/drive.mjs"))
            .args(urls)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node (Node.js 20) on the PATH");
        let stdout = child.stdout.take().expect("piped");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                eprintln!("[browser] {line}");
                sink.lock().unwrap().push(line);
            }
        });
        let browser = Browser {
            child,
            lines,
            _reader: reader,
            commands: 0,
        };
        for tab in 0..urls.len() {
            browser
                .line(|l| l.starts_with(&format!("{tab} LOADED")))
                .await;
        }
        browser
    }

    /// Waits (up to a minute) for a console line that `matches`, and returns it. Fails at
    /// once if a page threw.
    pub async fn line(&self, matches: impl Fn(&str) -> bool) -> String {
        super::wait::poll_until(
            Duration::from_secs(60),
            "a line from the browser",
            async || {
                let lines = self.lines.lock().unwrap();
                if let Some(error) = lines.iter().find(|l| l.contains("PAGEERROR")) {
                    panic!("the page failed: {error}\nit said:\n{}", lines.join("\n"));
                }
                match lines.iter().find(|l| matches(l)) {
                    Some(line) => Ok(line.clone()),
                    None => Err(format!("it said:\n{}", lines.join("\n"))),
                }
            },
        )
        .await
    }

    fn command(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().expect("the driver's stdin");
        writeln!(stdin, "{line}").expect("the driver takes commands");
        stdin.flush().expect("flush");
    }

    /// Runs `verb <id> <tab> <arg>` and returns what follows `VERB <id> ` in its answer;
    /// fails with the driver's error.
    async fn run(&mut self, verb: &str, tab: usize, arg: &str) -> String {
        self.commands += 1;
        let id = self.commands;
        self.command(&format!("{verb} {id} {tab} {arg}"));
        let prefix = format!("{} {id}", verb.to_uppercase());
        let line = self
            .line(|l| l == prefix || l.starts_with(&format!("{prefix} ")))
            .await;
        let rest = line[prefix.len()..].trim_start().to_owned();
        assert!(!rest.starts_with("ERROR"), "{verb} {arg}: {rest}");
        rest
    }

    /// Evaluates the JavaScript expression `js` (one line) in tab `tab`; its result as JSON.
    pub async fn eval(&mut self, tab: usize, js: &str) -> String {
        assert!(!js.contains('\n'), "one line of JavaScript");
        self.run("eval", tab, js).await
    }

    /// Clicks the element `selector` in tab `tab`.
    pub async fn click(&mut self, tab: usize, selector: &str) {
        self.run("click", tab, selector).await;
    }

    /// Saves a full-page PNG of tab `tab` to `path`.
    pub async fn screenshot(&mut self, tab: usize, path: &Path) {
        self.run("shot", tab, &path.display().to_string()).await;
    }

    /// Freezes tab `tab` for `ms` milliseconds (no task or timer of it runs meanwhile) and
    /// waits until it is thawed.
    pub async fn freeze(&mut self, tab: usize, ms: u64) {
        self.command(&format!("freeze {tab} {ms}"));
        let thawed = format!("{tab} THAWED");
        self.line(|l| l == thawed).await;
    }

    /// Every line so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
