//! `atlas serve` and `atlas config check` with `[auth.ldap]` against a
//! throwaway `slapd` (`atlas_ldap::testing`): directory users sign in after
//! the users file (also on the dashboard's sign-in form) and are recorded
//! by their uid, a directory that stops
//! answering gets 503 and shows in `/readyz`, and the check binds with the
//! service account. Skipped with a printed reason without `slapd`, unless
//! `ATLAS_TEST_REQUIRE` names `ldap`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use atlas_ldap::testing::{Slapd, ALICE_PASSWORD, GROUP_DN, PEOPLE, SERVICE_DN};

mod raw_http;

fn request(addr: &str, method: &str, path: &str, auth: Option<(&str, &str)>, body: &str) -> String {
    let mut headers = vec!["Content-Type: application/json".to_owned()];
    headers.extend(auth.map(|(u, p)| raw_http::basic(u, p)));
    raw_http::request(addr, method, path, &headers, body)
}

/// Form-encodes `s` (every byte but letters and digits as `%XX`).
fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Signs in to the dashboard as a browser would: the sign-in page's
/// token cookie, then the form. Answers the POST's whole response.
fn dashboard_sign_in(addr: &str, user: &str, password: &str) -> String {
    let page = request(addr, "GET", "/ui/login", None, "");
    let token = page
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(": ")?;
            if !name.eq_ignore_ascii_case("set-cookie") {
                return None;
            }
            value.strip_prefix("atlas_login=")?.split(';').next()
        })
        .unwrap_or_else(|| panic!("the sign-in page sets its token cookie: {page}"))
        .to_owned();
    let body = format!(
        "login_token={token}&user={}&password={}",
        form_encode(user),
        form_encode(password)
    );
    raw_http::request(
        addr,
        "POST",
        "/ui/login",
        &[
            format!("Cookie: atlas_login={token}"),
            "Content-Type: application/x-www-form-urlencoded".to_owned(),
        ],
        &body,
    )
}

fn json_body(answer: &str) -> serde_json::Value {
    serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap()
}

/// `atlas.toml` in `dir` for `slapd`, the service password in `password`.
fn write_config(dir: &Path, slapd: &Slapd, password: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("bind.pw"), format!("{password}\n")).unwrap();
    let config = dir.join("atlas.toml");
    std::fs::write(
        &config,
        format!(
            "[auth.ldap]\nurl = \"{url}\"\ntimeout = 5\nbind_dn = \"{SERVICE_DN}\"\n\
             bind_password_file = \"bind.pw\"\nuser_base = \"{PEOPLE}\"\n\
             user_filter = \"(&(uid={{user}})(!(employeeType=disabled)))\"\n\
             required_group = \"{GROUP_DN}\"\n",
            url = slapd.url()
        ),
    )
    .unwrap();
    config
}

#[test]
fn serve_signs_directory_users_in_by_their_uid_and_answers_503_while_the_directory_is_down() {
    let Some(mut slapd) = Slapd::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &slapd, atlas_ldap::testing::SERVICE_PASSWORD);
    let mut child = Command::new(env!("CARGO_BIN_EXE_atlas"))
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--no-worker", "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .env("ATLAS_METRICS__ENABLED", "false")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("atlas runs");
    // Kept open until the end: atlas must be able to print.
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut lines = Vec::new();
    let mut addr = None;
    for line in stdout.by_ref().map_while(Result::ok) {
        if let Some(rest) = line.strip_prefix("Atlas is listening on http://") {
            addr = Some(rest.split('/').next().unwrap().to_owned());
            break;
        }
        lines.push(line);
    }
    let addr = addr.unwrap_or_else(|| panic!("no address in {lines:?}"));
    assert!(
        lines
            .iter()
            .any(|l| l.contains("then the LDAP directory") && l.contains(&slapd.url())),
        "{lines:?}"
    );

    let seed = r#"{"git_url": "/nonexistent/drupal.git", "commit_hash": "9ee4a3a7c0b5c9b7f2a5a38dd6c3f1a1c2b5e4d1",
                   "meta": {"name": "drupal", "version": "7.42", "code_type": "core", "is_current": true}}"#;
    let answer = request(&addr, "POST", "/code", Some(("Alice", ALICE_PASSWORD)), seed);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let listed = json_body(&request(&addr, "GET", "/code", None, ""));
    assert_eq!(listed["_items"][0]["created_by"], "alice", "{listed}");
    let ready = json_body(&request(&addr, "GET", "/readyz", None, ""));
    assert_eq!(ready["checks"]["ldap"], "ok", "{ready}");

    // The dashboard signs in through the same chain.
    let signed_in = dashboard_sign_in(&addr, "alice", ALICE_PASSWORD);
    assert!(signed_in.starts_with("HTTP/1.1 303"), "{signed_in}");
    assert!(signed_in.contains("atlas_session="), "{signed_in}");
    let refused = dashboard_sign_in(&addr, "alice", "not-her-password");
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    assert!(!refused.contains("atlas_session="), "{refused}");

    slapd.stop();
    // (Her verified password is remembered for a while: another one needs
    // the directory.)
    let unavailable = dashboard_sign_in(&addr, "alice", "another-password");
    assert!(unavailable.starts_with("HTTP/1.1 503"), "{unavailable}");
    assert!(!unavailable.contains("atlas_session="), "{unavailable}");
    let answer = request(&addr, "POST", "/code", Some(("alice", "another-password")), seed);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains(&slapd.url()), "{answer}");
    let ready = json_body(&request(&addr, "GET", "/readyz", None, ""));
    assert!(
        ready["degraded"].as_array().unwrap().iter().any(|n| n == "ldap"),
        "{ready}"
    );
    assert!(
        ready["checks"]["ldap"].as_str().unwrap().contains(&slapd.url()),
        "{ready}"
    );

    let _ = child.kill();
    let _ = child.wait();
    drop(stdout);
}

fn config_check(dir: &Path, config: &Path) -> (String, bool) {
    let out = Command::new(env!("CARGO_BIN_EXE_atlas"))
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(dir)
        .args(["config", "check"])
        .env("RUST_LOG", "warn")
        .output()
        .expect("atlas runs");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.success(),
    )
}

#[test]
fn config_check_binds_with_the_service_account_and_names_the_directory_when_it_cannot() {
    let Some(slapd) = Slapd::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &slapd, atlas_ldap::testing::SERVICE_PASSWORD);
    let (out, _) = config_check(dir.path(), &config);
    assert!(
        out.contains(&format!("LDAP directory {}: ok", slapd.url())),
        "{out}"
    );
    assert!(!out.contains("[auth.ldap]"), "{out}");

    let config = write_config(dir.path(), &slapd, "not-the-service-password");
    let (out, ok) = config_check(dir.path(), &config);
    assert!(!ok);
    let problem = out
        .lines()
        .find(|l| l.starts_with("problem: [auth.ldap]"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(problem.contains(&slapd.url()), "{problem}");
    assert!(problem.contains("auth.ldap.bind_dn"), "{problem}");
    assert!(!out.contains("not-the-service-password"), "{out}");
}
