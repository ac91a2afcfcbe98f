//! run_command.

use std::time::{Duration, Instant};

use atlas_core::{ExecError, Executor};

use crate::helpers::{command, TestEnv};

const SID: &str = "p1command0001";

async fn provisioned() -> (TestEnv, atlas_core::InstanceSpec) {
    let env = TestEnv::new();
    env.deploy_all().await;
    let spec = env.instance(SID);
    env.exec.provision(&spec).await.unwrap();
    (env, spec)
}

#[tokio::test]
async fn run_command_runs_in_the_web_directory_with_stdin_closed() {
    let (env, spec) = provisioned().await;
    let cmd = command(
        "pwd; pwd -P; echo \"$ATLAS_SID\"; cat; echo done",
        Some(spec),
        Duration::from_secs(10),
    );
    let out = env.exec.run_command(&cmd).await.unwrap();
    let tree = std::fs::canonicalize(env.p(&format!("instances/{SID}/{SID}"))).unwrap();
    assert_eq!(
        out.stdout,
        format!(
            "{}\n{}\n{SID}\ndone\n",
            env.p(&format!("web/express/{SID}")).display(),
            tree.display()
        )
    );
    assert_eq!(out.exit_status, Some(0));
    assert_eq!(out.servers, vec!["web-test-1".to_string()]);
}

#[tokio::test]
async fn run_command_reports_a_non_zero_exit_and_stderr() {
    let (env, spec) = provisioned().await;
    let out = env
        .exec
        .run_command(&command(
            "echo out; echo err >&2; exit 7",
            Some(spec),
            Duration::from_secs(10),
        ))
        .await
        .unwrap();
    assert_eq!(out.exit_status, Some(7));
    assert_eq!(out.stdout, "out\n");
    assert_eq!(out.stderr, "err\n");
}

/// Whether process `pid` still runs (gone or a zombie counts as dead).
fn alive(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

#[tokio::test]
async fn run_command_kills_the_process_group_on_timeout() {
    let (env, spec) = provisioned().await;
    let pidfile = env.t().join("bg.pid");
    let cmd = format!(
        "sleep 30 & echo $! > '{}'; sleep 30; echo late",
        pidfile.display()
    );
    let started = Instant::now();
    let res = env
        .exec
        .run_command(&command(&cmd, Some(spec), Duration::from_millis(300)))
        .await;
    assert!(
        matches!(res, Err(ExecError::Timeout(d)) if d == Duration::from_millis(300)),
        "{res:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let pid = std::fs::read_to_string(&pidfile).unwrap().trim().to_owned();
    let deadline = Instant::now() + Duration::from_secs(3);
    while alive(&pid) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !alive(&pid),
        "the background child {pid} was killed with the group"
    );
}

#[tokio::test]
async fn run_command_keeps_the_tail_of_long_output() {
    let env = TestEnv::new();
    std::fs::create_dir_all(env.p("web")).unwrap();
    let cmd = command(
        "head -c 200000 /dev/zero | tr '\\0' a; echo; echo END",
        None,
        Duration::from_secs(10),
    );
    let out = env.exec.run_command(&cmd).await.unwrap();
    assert!(out.stdout.len() <= 64 * 1024);
    assert!(out.stdout.ends_with("a\nEND\n"));
}

#[tokio::test]
async fn run_command_without_an_instance_runs_in_the_web_root() {
    let env = TestEnv::new();
    std::fs::create_dir_all(env.p("web")).unwrap();
    let out = env
        .exec
        .run_command(&command("pwd", None, Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(out.stdout.trim_end(), env.p("web").display().to_string());
}

#[tokio::test]
async fn run_command_for_an_unprovisioned_instance_is_an_error() {
    let env = TestEnv::new();
    let spec = env.instance(SID);
    let err = env
        .exec
        .run_command(&command("true", Some(spec), Duration::from_secs(10)))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
}
