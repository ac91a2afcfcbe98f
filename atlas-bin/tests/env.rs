//! The documented environment variables that are not settings:
//! `ATLAS_CONFIG` names the file to read and `ATLAS_PASSWORD` carries the
//! password of `atlas user add|passwd`; neither may be read as a
//! configuration key ("unknown field"). And `RUST_BACKTRACE`, which must
//! never turn an operator's error message into a backtrace.

use std::process::Command;

fn atlas() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_atlas"));
    c.env("RUST_LOG", "warn");
    c
}

#[test]
fn config_check_reads_the_file_named_by_atlas_config() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("atlas.toml");
    let data = dir.path().join("data");
    std::fs::write(
        &file,
        format!(
            "data_dir = \"{}\"\n[shell.programs]\ngit = \"/bin/sh\"\nmysql = \"/bin/sh\"\ndrush = \"/bin/sh\"\n",
            data.display()
        ),
    )
    .unwrap();
    let out = atlas()
        .env("ATLAS_CONFIG", &file)
        .args(["config", "check"])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stdout.contains(&format!("data_dir: {}", data.display())),
        "{stdout}"
    );
    assert!(stdout.contains("configuration ok"), "{stdout}");
}

#[test]
fn user_add_reads_the_password_from_atlas_password() {
    let dir = tempfile::tempdir().unwrap();
    let out = atlas()
        .arg("--data-dir")
        .arg(dir.path())
        .env("ATLAS_PASSWORD", "correct horse")
        .args(["user", "add", "carol"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let users = std::fs::read_to_string(dir.path().join("users.toml")).unwrap();
    assert!(users.contains("carol = \"$argon2id$"), "{users}");
    assert!(!users.contains("correct horse"), "{users}");
}

#[test]
fn config_check_prints_each_problem_once_without_a_backtrace() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("atlas.toml");
    std::fs::write(&file, "[shell.programs]\ndrush = \"/nonexistent/drush\"\n").unwrap();
    let out = atlas()
        .env("RUST_BACKTRACE", "1")
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(&file)
        .args(["config", "check"])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(!out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    let all = format!("{stdout}{stderr}");
    assert_eq!(
        all.matches("/nonexistent/drush").count(),
        1,
        "the problem is printed once: {all}"
    );
    assert!(!all.contains("backtrace"), "{all}");
    assert!(!all.contains("anyhow"), "{all}");
    assert!(!all.contains(".rs:"), "{all}");
    assert_eq!(
        stderr.lines().filter(|l| l.contains("problem(s) found")).count(),
        1,
        "{stderr}"
    );
}

#[test]
fn the_cli_variables_do_not_break_loading_the_server_configuration() {
    // An operator's shell with the CLI's variables set still runs the
    // server: ATLAS_URL, ATLAS_USER and ATLAS_PASSWORD_FILE are not
    // settings (they would be read as the unknown keys url, user and
    // password_file).
    let dir = tempfile::tempdir().unwrap();
    let out = atlas()
        .arg("--data-dir")
        .arg(dir.path())
        .env("ATLAS_URL", "http://127.0.0.1:8080")
        .env("ATLAS_USER", "admin")
        .env("ATLAS_PASSWORD_FILE", dir.path().join("pw"))
        .args(["config", "check"])
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains("unknown field"), "{all}");
    assert!(all.contains("data_dir:"), "the configuration loaded: {all}");
}
