//! Serves browser agents their files — the swarm-web bundle (`scripts/build-web` writes it to
//! `target/web/pkg`) and the pages that load it — beside the swarm route, with the headers a
//! page needs to be cross-origin isolated (`crossOriginIsolated`), which browsers require
//! before they give a page `SharedArrayBuffer`:
//!
//! - `Cross-Origin-Opener-Policy: same-origin`
//! - `Cross-Origin-Embedder-Policy: require-corp`
//! - `Cross-Origin-Resource-Policy: same-origin` (so the files can be embedded by isolated
//!   pages of this origin)
//!
//! Isolation is on by default and can be turned off ([`BrowserFiles::cross_origin_isolated`])
//! for pages that embed resources from other origins without CORP headers.

use std::path::PathBuf;

use actix_web::dev::{AppService, HttpServiceFactory};
use actix_web::middleware::DefaultHeaders;
use actix_web::web;

/// Static files for browser agents, mounted at a path of the app (see the module docs).
#[derive(Debug, Clone)]
pub struct BrowserFiles {
    mount: String,
    dir: PathBuf,
    isolated: bool,
    index: String,
}

impl BrowserFiles {
    /// Serves the files under `dir` at `mount` (`"/"`, `"/pkg"`…), `index.html` for the
    /// directory itself. Fails with what to do when `dir` does not exist (for the bundle: run
    /// `scripts/build-web`).
    pub fn new(mount: &str, dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        if !dir.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!(
                    "{} is not a directory (for the swarm-web bundle, run scripts/build-web: it writes target/web/pkg)",
                    dir.display()
                ),
            ));
        }
        Ok(BrowserFiles {
            mount: mount.trim_end_matches('/').to_owned(),
            dir,
            isolated: true,
            index: "index.html".to_owned(),
        })
    }

    /// Sends the cross-origin isolation headers (default: on).
    pub fn cross_origin_isolated(mut self, on: bool) -> Self {
        self.isolated = on;
        self
    }

    /// The file served for the directory itself (default `index.html`).
    pub fn index_file(mut self, name: &str) -> Self {
        self.index = name.to_owned();
        self
    }
}

impl HttpServiceFactory for BrowserFiles {
    fn register(self, config: &mut AppService) {
        let mut headers = DefaultHeaders::new().add(("Cache-Control", "no-cache"));
        if self.isolated {
            headers = headers
                .add(("Cross-Origin-Opener-Policy", "same-origin"))
                .add(("Cross-Origin-Embedder-Policy", "require-corp"))
                .add(("Cross-Origin-Resource-Policy", "same-origin"));
        }
        let files = actix_files::Files::new("", self.dir).index_file(self.index);
        web::scope(&self.mount)
            .wrap(headers)
            .service(files)
            .register(config);
    }
}
