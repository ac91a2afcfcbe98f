//! The demo setup the CLI and browser tests run against: `atlas demo`
//! (local git repositories, stub drush and mysql) and an `atlas serve` on
//! it, the CLI pointed at that server, and an installed instance. Shared
//! by the test binaries as `mod demo;` (each uses its own part of it).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use atlas_core::testing::service::require_service;
use serde_json::Value;

/// Whether git runs (the demo's repositories need it).
pub fn has_git() -> Result<(), String> {
    Command::new("git")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .map(|_| ())
        .map_err(|e| format!("git cannot run: {e}"))
}

/// The `atlas` binary, quiet, without the caller's `ATLAS_URL`,
/// `ATLAS_USER` or `ATLAS_PASSWORD_FILE`.
pub fn atlas() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_atlas"));
    c.env("RUST_LOG", "warn").env("NO_COLOR", "1");
    for v in ["ATLAS_URL", "ATLAS_USER", "ATLAS_PASSWORD_FILE"] {
        c.env_remove(v);
    }
    c
}

/// A finished command's status and output, for failure messages.
pub fn text(out: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A demo directory and an `atlas serve` on it; the server is killed when
/// this is dropped.
pub struct Demo {
    pub dir: tempfile::TempDir,
    pub addr: SocketAddr,
    server: Child,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

impl Demo {
    /// `None` (skipped) without git.
    pub fn start() -> Option<Self> {
        if !require_service("tour", has_git()) {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let demo = atlas().arg("demo").arg(dir.path().join("d")).output().unwrap();
        assert!(demo.status.success(), "{}", text(&demo));
        let mut server = atlas()
            .arg("--config")
            .arg(dir.path().join("d/atlas.toml"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("ATLAS_METRICS__ENABLED", "false")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
        let addr = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| {
                l.strip_prefix("Atlas is listening on http://")
                    .and_then(|r| r.split('/').next())
                    .map(str::to_owned)
            })
            .expect("atlas serve prints its address");
        std::thread::spawn(move || for _ in lines {});
        Some(Self {
            addr: addr.parse().unwrap(),
            dir,
            server,
        })
    }

    /// `rel` under the demo's temporary directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `http://<server><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The password of the demo's API user `admin`.
    pub fn password(&self) -> String {
        std::fs::read_to_string(self.path("d/admin-password"))
            .unwrap()
            .trim()
            .to_owned()
    }

    /// `atlas <args>` against the server at `url` (by `ATLAS_URL`,
    /// `ATLAS_USER`, `ATLAS_PASSWORD_FILE`), with an empty profile
    /// directory.
    pub fn cli_at(&self, url: &str, args: &[&str]) -> Output {
        atlas()
            .args(args)
            .current_dir(self.dir.path())
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("ATLAS_URL", url)
            .env("ATLAS_USER", "admin")
            .env("ATLAS_PASSWORD_FILE", self.path("d/admin-password"))
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// `atlas <args>` against this server.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_at(&format!("http://{}", self.addr), args)
    }

    /// Runs `args` and parses its `--json` output; panics with its output
    /// when it fails.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.cli(&all);
        assert!(out.status.success(), "atlas {args:?} failed:\n{}", text(&out));
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("atlas {args:?} printed no JSON ({e}):\n{}", text(&out)))
    }

    /// The code items of the demo, deployed, and an installed instance;
    /// answers its sid.
    pub fn installed_instance(&self) -> String {
        for body in ["core.json", "profile.json"] {
            let added = self.json(&["code", "add", "--from-file", &format!("d/{body}"), "--wait"]);
            assert_eq!(added["jobs"][0]["status"], "succeeded", "{added}");
        }
        let created = self.json(&["instance", "create", "--wait"]);
        assert_eq!(created["instance"]["status"], "available", "{created}");
        let sid = created["instance"]["sid"].as_str().unwrap().to_owned();
        let installed = self.json(&["instance", "install", &sid, "--wait"]);
        assert_eq!(installed["instance"]["status"], "installed", "{installed}");
        sid
    }
}
