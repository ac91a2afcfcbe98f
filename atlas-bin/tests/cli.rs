//! The operator CLI (`atlas instance|code|command|jobs|backup`) against a
//! real `atlas serve` on the demo setup (`atlas demo`: local git
//! repositories, stub drush and mysql), over the HTTP API only: the
//! lifecycle from code items to a command run with `--json` output parsed,
//! the release rule, the 412 retry (through a proxy that writes the record
//! just before the CLI does), and the messages for an unknown sid, an
//! unreachable server and missing credentials. Needs `git` (the demo's
//! repositories); skipped with a printed reason without it, unless
//! `ATLAS_TEST_REQUIRE` names `tour`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

mod demo;
use demo::{atlas, text, Demo};

#[test]
fn create_launch_command_run_jobs_and_forced_delete_work_end_to_end_with_json_output() {
    let Some(demo) = Demo::start() else { return };
    let sid = demo.installed_instance();

    let launched = demo.json(&["instance", "launch", &sid, "--route", "mysite", "--wait"]);
    assert_eq!(launched["instance"]["status"], "launched", "{launched}");
    let route = launched["route"].as_str().unwrap();
    assert_eq!(
        launched["instance"]["routes"]["primary_route"], route,
        "{launched}"
    );
    let map = std::fs::read_to_string(demo.path("d/route-map.txt")).unwrap();
    assert!(map.contains("\"/mysite\""), "{map}");

    let listed = demo.json(&["instance", "list", "--status", "launched"]);
    let sids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["sid"].as_str().unwrap())
        .collect();
    assert_eq!(sids, [sid.as_str()]);
    let shown = demo.json(&["instance", "show", &sid]);
    assert_eq!(shown["status"], "launched");
    assert!(
        shown.get("_links").is_none(),
        "records are printed without _links: {shown}"
    );

    let added = demo.json(&[
        "command",
        "add",
        "--name",
        "List files",
        "--command",
        "ls -a",
        "--query",
        r#"{"status": "launched"}"#,
    ]);
    assert_eq!(added["command"]["name"], "List files");
    let run = demo.json(&["command", "run", "List files", "--wait"]);
    assert_eq!(run["summary"]["succeeded"], 1, "{run}");
    assert_eq!(run["summary"]["outcome"], "succeeded", "{run}");
    assert_eq!(run["instances"][0]["sid"], sid.as_str(), "{run}");
    assert!(
        run["instances"][0]["stdout"]
            .as_str()
            .unwrap()
            .contains("index.php"),
        "{run}"
    );

    let jobs = demo.json(&["jobs", "--instance", &sid]);
    let kinds: Vec<&str> = jobs
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["kind"].as_str().unwrap())
        .collect();
    for kind in ["provision", "install_assign", "launch", "command_instance"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    // People get a table with the statuses.
    let table = demo.cli(&["jobs", "--instance", &sid]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.starts_with("ID"), "{table}");
    assert!(table.contains("launch") && table.contains("succeeded"), "{table}");
    assert!(
        table.contains(&format!("instance {sid}")),
        "jobs name their instance by sid: {table}"
    );

    // --follow prints JSON lines until stopped.
    let mut follow = atlas()
        .args(["jobs", "--follow", "--json", "--limit", "3"])
        .env("XDG_CONFIG_HOME", demo.path("config"))
        .env("ATLAS_URL", format!("http://{}", demo.addr))
        .env("ATLAS_PASSWORD_FILE", demo.path("d/admin-password"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follow.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert!(first["kind"].is_string(), "{first}");
    let _ = follow.kill();
    let _ = follow.wait();

    // A launched instance is deleted only with --force.
    let out = demo.cli(&["instance", "delete", &sid]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("server says 409") && stderr.contains("--force"),
        "{stderr}"
    );
    let deleted = demo.json(&["instance", "delete", &sid, "--force", "--wait"]);
    assert_eq!(deleted["job"]["status"], "succeeded", "{deleted}");
    let out = demo.cli(&["instance", "show", &sid]);
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("no instance with sid {sid}")));
}

#[test]
fn a_command_run_with_a_failing_instance_exits_non_zero_naming_it() {
    let Some(demo) = Demo::start() else { return };
    let sid = demo.installed_instance();
    demo.json(&[
        "command",
        "add",
        "--name",
        "Always fails",
        "--command",
        "exit 3",
        "--query",
        r#"{"status": "installed"}"#,
    ]);
    let out = demo.cli(&["command", "run", "Always fails", "--wait"]);
    assert!(!out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("'Always fails' failed on 1 instance(s)") && stderr.contains(&sid),
        "{}",
        text(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("0 succeeded, 1 failed"), "{stdout}");
}

#[test]
fn an_unknown_sid_is_an_error_naming_it_and_how_to_list_instances() {
    let Some(demo) = Demo::start() else { return };
    let out = demo.cli(&["instance", "show", "p1nosuchsite"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim(),
        "atlas: no instance with sid p1nosuchsite: `atlas instance list` shows the instances"
    );
    let out = demo.cli(&["instance", "take-down", "p1nosuchsite"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no instance with sid p1nosuchsite"));

    // A query given on the command line: JSON, or an error naming the flag.
    let none = demo.json(&["instance", "list", "--where", r#"{"sid": "p1nosuchsite"}"#]);
    assert_eq!(none, serde_json::json!([]));
    let out = demo.cli(&["instance", "list", "--where", "{sid"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("atlas: --where is not JSON"),
        "{}",
        text(&out)
    );

    // Rollouts are named the same way.
    let out = demo.cli(&["rollout", "pause", "6b063bb73e47cec0540b0000"]);
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "atlas: no rollout with id 6b063bb73e47cec0540b0000: `atlas rollout list` shows them"
    );
    let out = demo.cli(&[
        "rollout",
        "start",
        "--from",
        "express",
        "--to",
        "6b063bb73e47cec0540b0000",
    ]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--from 'express' is not a code item id"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_refused_change_shows_the_servers_status_and_message() {
    let Some(demo) = Demo::start() else { return };
    let sid = demo.installed_instance();
    let out = demo.cli(&["instance", "restore", &sid]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("atlas: server says 409: cannot go from 'installed' to 'restore'"),
        "{stderr}"
    );
    let out = demo.cli(&["instance", "launch", &sid, "--route", "bad route!"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("server says 422") && stderr.contains("source:"),
        "{stderr}"
    );
}

/// Commits `file` to the demo's work copy of `name` and pushes it to the
/// bare repository the code items name; answers the commit.
fn new_commit(demo: &Demo, name: &str, file: &str) -> String {
    let work = demo.path(&format!("d/repos/work/{name}"));
    let bare = demo.path(&format!("d/repos/{name}.git"));
    std::fs::write(work.join(file), "<?php // changed\n").unwrap();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(&work)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    git(&["add", "."]);
    git(&["commit", "--quiet", "-m", file]);
    let commit = git(&["rev-parse", "HEAD"]);
    git(&[
        "push",
        "--quiet",
        bare.to_str().unwrap(),
        &format!("HEAD:refs/heads/{file}"),
    ]);
    commit
}

#[test]
fn code_release_posts_a_new_item_for_a_stable_version_and_patches_one_with_an_error() {
    let Some(demo) = Demo::start() else { return };
    demo.installed_instance();
    let first = demo.json(&["code", "current", "drupal"])[0]["_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let commit = new_commit(&demo, "drupal", "new.php");
    let posted = demo.json(&[
        "code",
        "release",
        "drupal",
        "--commit",
        &commit,
        "--version",
        "7.43",
    ]);
    assert_eq!(posted["method"], "POST", "{posted}");
    assert!(posted["reason"].as_str().unwrap().contains("stable"), "{posted}");
    assert_ne!(posted["code"], first.as_str(), "{posted}");
    assert_eq!(posted["jobs"][0]["kind"], "code_deploy", "{posted}");
    assert_eq!(posted["jobs"][0]["status"], "succeeded", "{posted}");
    let current = demo.json(&["code", "current", "drupal"]);
    assert_eq!(current[0]["_id"], posted["code"]);
    assert_eq!(current[0]["meta"]["version"], "7.43");

    // The instance moves onto the new release in a rollout.
    let to = posted["code"].as_str().unwrap();
    let moved = demo.json(&["rollout", "start", "--from", &first, "--to", to, "--wait"]);
    assert_eq!(moved["rollout"]["state"], "completed", "{moved}");
    // The installed instance and the pool's available ones.
    let instances = demo.json(&["instance", "list"]);
    let on_to = instances
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["code"]["core"] == to)
        .count();
    assert!(on_to >= 1, "{instances}");
    assert_eq!(moved["rollout"]["done"], on_to, "{moved}");
    assert_eq!(moved["rollout"]["failed"], serde_json::json!([]), "{moved}");
    let listed = demo.json(&["rollout", "list", "--state", "completed"]);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    let shown = demo.cli(&["rollout", "show", moved["rollout"]["_id"].as_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&shown.stdout).contains(&format!("done {on_to}, failed 0, remaining 0")),
        "{}",
        text(&shown)
    );

    // A PATCH of the item the instance now uses is an in-place rollout.
    let fix = new_commit(&demo, "drupal", "fix.php");
    let out = demo.cli(&["code", "release", "drupal", "--commit", &fix, "--fixes-error"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout.contains("chose PATCH: PATCH the existing code item"),
        "{stdout}"
    );
    assert!(
        stdout.contains("the instances using it follow in rollout")
            && stdout.contains("rollout ")
            && stdout.contains(": completed, "),
        "{stdout}"
    );
    let all = demo.json(&["rollout", "list"]);
    let in_place: Vec<&Value> = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["from"] == r["to"])
        .collect();
    assert_eq!(in_place.len(), 1, "{all}");
    assert_eq!(in_place[0]["from"], to, "{all}");
    assert_eq!(in_place[0]["done"], on_to, "{all}");
    let current = demo.json(&["code", "current", "drupal"]);
    assert_eq!(current[0]["_id"], posted["code"], "patched in place");
    assert_eq!(current[0]["commit_hash"], fix.as_str());

    let hook = new_commit(&demo, "drupal", "hook.php");
    let out = demo.cli(&[
        "code",
        "release",
        "drupal",
        "--commit",
        &hook,
        "--fixes-error",
        "--needs-update-hook",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("the fix needs an update hook") && stderr.contains("--version"),
        "{stderr}"
    );
}

/// The first line and headers of an HTTP request or response, and its
/// body (by `Content-Length`); `None` at end of stream.
fn read_message(r: &mut BufReader<TcpStream>) -> Option<(Vec<String>, Vec<u8>)> {
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end().to_owned();
        if line.is_empty() {
            break;
        }
        head.push(line);
    }
    let len = head
        .iter()
        .find_map(|h| {
            let (k, v) = h.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some((head, body))
}

/// One request to `addr` on its own connection; answers the raw response.
fn exchange(addr: SocketAddr, head: &[String], body: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = String::new();
    for h in head
        .iter()
        .filter(|h| !h.to_ascii_lowercase().starts_with("connection:"))
    {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    out
}

/// Another client's write: tags the instance at `path` with its current
/// etag, changing that etag.
fn interfere(addr: SocketAddr, path: &str, password: &str, n: usize) {
    let got = exchange(
        addr,
        &[format!("GET {path} HTTP/1.1"), format!("Host: {addr}")],
        b"",
    );
    let got = String::from_utf8_lossy(&got);
    let body: Value = serde_json::from_str(got.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("admin:{password}"));
    let patch = format!(r#"{{"tag": ["other writer {n}"]}}"#);
    let answer = exchange(
        addr,
        &[
            format!("PATCH {path} HTTP/1.1"),
            format!("Host: {addr}"),
            format!("Authorization: Basic {auth}"),
            "Content-Type: application/json".into(),
            format!("If-Match: {}", body["_etag"].as_str().unwrap()),
            format!("Content-Length: {}", patch.len()),
        ],
        patch.as_bytes(),
    );
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

/// A proxy to `upstream` that, before forwarding each of the first `times`
/// PATCHes, writes the same record itself (so the CLI's etag is stale).
fn interfering_proxy(upstream: SocketAddr, password: String, times: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let (done, password) = (done.clone(), password.clone());
            std::thread::spawn(move || {
                let mut writer = conn.try_clone().unwrap();
                let mut reader = BufReader::new(conn);
                while let Some((head, body)) = read_message(&mut reader) {
                    let path = head[0].split(' ').nth(1).unwrap_or("/").to_owned();
                    if head[0].starts_with("PATCH ") {
                        let n = done.fetch_add(1, Ordering::SeqCst);
                        if n < times {
                            interfere(upstream, &path, &password, n);
                        }
                    }
                    let answer = exchange(upstream, &head, &body);
                    if writer.write_all(&answer).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

#[test]
fn a_412_from_a_concurrent_write_is_retried_once_after_reading_the_record_again() {
    let Some(demo) = Demo::start() else { return };
    let sid = demo.installed_instance();
    let proxy = interfering_proxy(demo.addr, demo.password(), 1);
    let out = demo.cli_at(
        &format!("http://{proxy}"),
        &["instance", "take-down", &sid, "--wait"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("changed while we wrote it (412); read it again and retried"),
        "{stderr}"
    );
    let shown = demo.json(&["instance", "show", &sid]);
    assert_eq!(shown["status"], "down", "{shown}");
    assert_eq!(
        shown["tag"][0], "other writer 0",
        "the other write is kept: {shown}"
    );
}

#[test]
fn a_second_412_is_reported_naming_the_record() {
    let Some(demo) = Demo::start() else { return };
    let sid = demo.installed_instance();
    let id = demo.json(&["instance", "show", &sid])["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let proxy = interfering_proxy(demo.addr, demo.password(), 2);
    let out = demo.cli_at(&format!("http://{proxy}"), &["instance", "take-down", &sid]);
    assert!(!out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "instance {id} changed again while we wrote it (412 twice)"
        )),
        "{stderr}"
    );
    assert_eq!(demo.json(&["instance", "show", &sid])["status"], "installed");
}

#[test]
fn an_unreachable_server_is_named_with_what_to_do() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = atlas()
        .args(["instance", "list", "--url", &format!("http://127.0.0.1:{port}")])
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(&format!(
            "atlas: cannot connect to Atlas at http://127.0.0.1:{port}"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("atlas serve") && stderr.contains("--url"),
        "{stderr}"
    );
}

#[test]
fn the_profile_file_names_the_server_user_and_password_file() {
    let Some(demo) = Demo::start() else { return };
    let config = demo.path("config");
    std::fs::create_dir_all(config.join("atlas")).unwrap();
    std::fs::write(
        config.join("atlas/cli.toml"),
        format!(
            "url = \"http://{}\"\nuser = \"admin\"\npassword_file = \"{}\"\n",
            demo.addr,
            demo.path("d/admin-password").display()
        ),
    )
    .unwrap();
    let profile_only = |args: &[&str]| {
        atlas()
            .args(args)
            .env("XDG_CONFIG_HOME", &config)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    // The job queue needs credentials: they came from the profile.
    let out = profile_only(&["jobs", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let jobs: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(jobs.is_array(), "{jobs}");
    // A wrong password is the server's 401, with what to check.
    std::fs::write(demo.path("wrong"), "not-the-password\n").unwrap();
    let out = atlas()
        .args(["jobs", "--password-file"])
        .arg(demo.path("wrong"))
        .env("XDG_CONFIG_HOME", &config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("atlas: server says 401:") && stderr.contains("user (admin)"),
        "{stderr}"
    );
    assert!(!stderr.contains("not-the-password"), "{stderr}");
    // Without a password file and without a terminal, the CLI says how to
    // give one (and never takes it from the command line).
    std::fs::write(
        config.join("atlas/cli.toml"),
        format!("url = \"http://{}\"\n", demo.addr),
    )
    .unwrap();
    let out = profile_only(&["jobs"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("needs the password of admin") && stderr.contains("ATLAS_PASSWORD_FILE"),
        "{stderr}"
    );
    assert!(!stderr.contains(&demo.password()));
}

#[test]
fn backups_are_created_and_listed_per_instance() {
    let Some(demo) = Demo::start() else { return };
    let sid = demo.installed_instance();
    let created = demo.json(&["backup", "create", &sid, "--wait"]);
    assert_eq!(created["backup"]["state"], "complete", "{created}");
    let listed = demo.json(&["backup", "list", "--instance", &sid]);
    assert_eq!(listed[0]["_id"], created["backup"]["_id"], "{listed}");
    assert_eq!(listed[0]["sid"], sid.as_str());
}

/// Every file named `name` under `dir` (symbolic links not followed).
fn files_named(dir: &std::path::Path, name: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let Ok(kind) = e.file_type() else { continue };
        if kind.is_dir() {
            out.extend(files_named(&e.path(), name));
        } else if kind.is_file() && e.file_name() == name {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn verify_finds_a_tampered_settings_file_and_heal_repairs_it() {
    let Some(demo) = Demo::start() else { return };
    let sid = demo.installed_instance();
    let clean = demo.json(&["instance", "verify", &sid, "--wait"]);
    assert_eq!(clean["drift"]["count"], 0, "{clean}");

    let settings = files_named(&demo.path(&format!("d/instances/{sid}")), "settings.php");
    assert!(!settings.is_empty(), "the instance has a settings file");
    for f in &settings {
        let mut text = std::fs::read_to_string(f).unwrap();
        text.push_str("\n$conf['tampered'] = TRUE;\n");
        std::fs::write(f, text).unwrap();
    }
    let out = demo.cli(&["instance", "verify", &sid, "--wait"]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(!out.status.success(), "{}", text(&out));
    assert!(stdout.contains("settings") && stdout.contains("yes"), "{stdout}");
    assert!(
        stderr.contains(&format!("instance {sid} has drifted"))
            && stderr.contains(&format!("atlas instance heal {sid} --wait")),
        "{stderr}"
    );

    let healed = demo.json(&["instance", "heal", &sid, "--wait"]);
    assert_eq!(healed["drift"]["count"], 0, "{healed}");
    assert_eq!(healed["job"]["status"], "succeeded", "{healed}");
    for f in &settings {
        assert!(!std::fs::read_to_string(f).unwrap().contains("tampered"));
    }
}
