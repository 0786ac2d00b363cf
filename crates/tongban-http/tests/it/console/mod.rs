//! The web console: its assets as served (any client), and each page in a
//! real browser — headless Chromium driven over WebDriver by chromedriver,
//! which each test starts on a free loopback port and stops when done.
//! Gated on `TONGBAN_TEST_BROWSER` (`.ci/run` installs both and sets it).

mod assets;
mod audit;
mod catalogue;
mod departments;
mod items;
mod keys;
mod licences;
mod overview;
mod peers;
mod roles;
mod scale;
mod schemas;
mod verify;

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::Served;

/// How long a page may take to show what a test waits for.
const PATIENCE: Duration = Duration::from_secs(15);

/// A chromedriver process in a process group of its own, with the
/// browser it starts: the whole group is killed when dropped, so that a
/// test that fails before it closes its session leaves no browser behind.
#[derive(Debug)]
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start(program: &str) -> Driver {
        // A free port: bound, read, released for chromedriver to take.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let child = Command::new(program)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        Driver { child, port }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The group's id is chromedriver's own (`process_group(0)`).
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A headless Chromium on a hub's console; screenshots go to a folder
/// named after the test.
pub struct Console {
    client: Client,
    base: String,
    shots: PathBuf,
    _driver: Driver,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console").field("base", &self.base).finish()
    }
}

/// `program` as a path: itself when it names one, else where `PATH`
/// finds it (chromedriver wants the browser's path).
fn on_path(program: &str) -> String {
    if program.contains('/') {
        return program.to_owned();
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .map_or_else(|| program.to_owned(), |p| p.display().to_string())
}

/// The folder the screenshots of `test` are written to.
pub fn screenshot_dir(test: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("console-screenshots")
        .join(test)
}

impl Console {
    /// A browser on `served`'s console, or `None` when the browser gate is
    /// closed (said loudly, or failing where required).
    pub async fn open(served: &Served, test: &str) -> Option<Console> {
        let browser = tongban_tests::browser()?;
        let driver = Driver::start(&browser.chromedriver);
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": on_path(&browser.chromium),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,1000", "--lang=zh-CN", "--no-first-run"],
            },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let url = format!("http://127.0.0.1:{}", driver.port);
        let mut tries = 0;
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(e) if tries < 50 => {
                    tries += 1;
                    if tries % 10 == 0 {
                        eprintln!("waiting for chromedriver: {e}");
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("no WebDriver session on {url}: {e}"),
            }
        };
        let shots = screenshot_dir(test);
        std::fs::create_dir_all(&shots).unwrap();
        Some(Console {
            client,
            base: served.url("/console/"),
            shots,
            _driver: driver,
        })
    }

    /// Goes to the console's `route` (`/verify`, …) and waits for it to start.
    pub async fn go(&self, route: &str) {
        // Loaded afresh, as a user opening the address would: a new hash on
        // the page already open would only change the route.
        self.client.goto("about:blank").await.unwrap();
        self.client
            .goto(&format!("{}#{route}", self.base))
            .await
            .unwrap();
        self.wait("body[data-ready='true']").await;
    }

    /// The element of `css`, once it is there.
    pub async fn wait(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(e) => self.failed(&format!("no {css} on the page: {e}")).await,
        }
    }

    /// Fails the test with `why`, what the page says, and a screenshot
    /// (`failed.png`).
    async fn failed(&self, why: &str) -> ! {
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(self.shots.join("failed.png"), png);
        }
        let said = match self.client.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        panic!(
            "{why}\nthe page says:\n{said}\n(screenshot: {})",
            self.shots.join("failed.png").display()
        );
    }

    /// The text of `css`, once it is there.
    pub async fn text(&self, css: &str) -> String {
        self.wait(css).await.text().await.unwrap()
    }

    /// Waits until `css`'s text contains `wanted`: its text then.
    pub async fn text_with(&self, css: &str, wanted: &str) -> String {
        let start = std::time::Instant::now();
        loop {
            let text = match self.client.find(Locator::Css(css)).await {
                Ok(e) => e.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if text.contains(wanted) {
                return text;
            }
            if start.elapsed() > PATIENCE {
                self.failed(&format!("{css} never said {wanted:?}; it says {text:?}"))
                    .await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether `css` is on the page now.
    pub async fn has(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .unwrap()
            .is_empty()
    }

    /// Types `text` into `css` (emptied first).
    pub async fn type_into(&self, css: &str, text: &str) {
        let input = self.wait(css).await;
        input.clear().await.unwrap();
        input.send_keys(text).await.unwrap();
    }

    /// Clicks `css`.
    pub async fn click(&self, css: &str) {
        self.wait(css).await.click().await.unwrap();
    }

    /// Signs in with `token` and waits for the navigation of its role.
    pub async fn sign_in(&self, token: &str) {
        self.go("/signin").await;
        self.type_into("#signin-form input[name='token']", token)
            .await;
        self.click("#signin-form button[type='submit']").await;
        self.wait("#who[data-role]").await;
    }

    /// Signs out.
    pub async fn sign_out(&self) {
        self.click("#signout").await;
        self.wait("#signin-form").await;
    }

    /// The pages the navigation offers: their routes.
    pub async fn nav(&self) -> Vec<String> {
        let mut out = Vec::new();
        for a in self.client.find_all(Locator::Css("#nav a")).await.unwrap() {
            let id = a.attr("id").await.unwrap().unwrap_or_default();
            out.push(id.trim_start_matches("nav-").to_owned());
        }
        out
    }

    /// Writes a screenshot of the page as `{name}.png` in the test's
    /// folder, and checks that it is a PNG of some substance.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
        assert!(png.len() > 5_000, "{name}: {} bytes only", png.len());
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    /// Confirms the open confirmation dialog, with `reason` when it asks one.
    pub async fn confirm(&self, reason: Option<&str>) {
        self.wait("dialog.confirm[open]").await;
        if let Some(reason) = reason {
            self.type_into("dialog.confirm textarea[name='reason']", reason)
                .await;
        }
        self.click("#confirm-yes").await;
    }

    /// Ends the browser session (the driver stops on drop).
    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}
