//! Waiting for the server's work to finish (`--wait`): polling jobs, a
//! command run's summary, an instance's status or a backup's state, with a
//! progress bar on standard error (drawn only on a terminal) that shows
//! the counts. The callers decide what a failure means; each wait gives up
//! after the `--timeout` with a message saying the work may still finish.

use std::time::{Duration, Instant};

use anyhow::bail;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use crate::client::http::plain;
use crate::client::Client;

/// How often the server is asked.
const POLL: Duration = Duration::from_millis(500);

/// A bar of `len` steps, or a spinner when `len` is `None`.
fn bar(len: Option<u64>) -> ProgressBar {
    let pb = match len {
        Some(n) => {
            let pb = ProgressBar::new(n);
            if let Ok(style) =
                ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
            {
                pb.set_style(style.progress_chars("=> "));
            }
            pb
        }
        None => {
            let pb = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
                pb.set_style(style);
            }
            pb
        }
    };
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

fn timed_out(what: &str, timeout: Duration, watch: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{what} did not finish within {} s (--timeout); it may still finish: watch it with `{watch}`",
        timeout.as_secs()
    )
}

/// Whether a job has finished (`succeeded` or `dead`).
pub fn finished(job: &Value) -> bool {
    matches!(job["status"].as_str(), Some("succeeded" | "dead"))
}

/// Waits until every job in `ids` has finished; answers them as they
/// ended (in `ids`' order).
///
/// # Errors
/// Requests failing; the timeout.
pub async fn jobs(
    client: &Client,
    ids: &[String],
    what: &str,
    timeout: Duration,
) -> anyhow::Result<Vec<Value>> {
    let start = Instant::now();
    let pb = bar(Some(ids.len() as u64));
    loop {
        let mut all = Vec::with_capacity(ids.len());
        for id in ids {
            all.push(client.get(&format!("jobs/{id}"), &[], true).await?);
        }
        let done = all.iter().filter(|j| finished(j)).count();
        let dead = all.iter().filter(|j| j["status"] == "dead").count();
        pb.set_position(done as u64);
        pb.set_message(format!("{what}: {done} finished, {dead} failed"));
        if done == all.len() {
            pb.finish_and_clear();
            return Ok(all);
        }
        if start.elapsed() > timeout {
            pb.finish_and_clear();
            return Err(timed_out(what, timeout, "atlas jobs --follow"));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits for a command run (`command_run` job `run`) to finish: the run job
/// itself, then every instance job its summary counts. Answers the run job
/// as it ended (`result.summary` holds the counts).
///
/// # Errors
/// Requests failing; the timeout.
pub async fn command_run(client: &Client, run: &str, timeout: Duration) -> anyhow::Result<Value> {
    let start = Instant::now();
    let pb = bar(Some(0));
    loop {
        let job = client.get(&format!("jobs/{run}"), &[], true).await?;
        match job["status"].as_str() {
            Some("dead") => {
                pb.finish_and_clear();
                return Ok(job);
            }
            Some("succeeded") => {
                let Some(summary) = job.pointer("/result/summary") else {
                    pb.finish_and_clear();
                    return Ok(job);
                };
                let n = |k: &str| summary[k].as_u64().unwrap_or(0);
                pb.set_length(n("total"));
                pb.set_position(n("succeeded") + n("failed"));
                pb.set_message(format!(
                    "instances: {} succeeded, {} failed, {} pending",
                    n("succeeded"),
                    n("failed"),
                    n("pending")
                ));
                if summary["outcome"] != "running" {
                    pb.finish_and_clear();
                    return Ok(job);
                }
            }
            _ => pb.set_message("the run is queued"),
        }
        if start.elapsed() > timeout {
            pb.finish_and_clear();
            return Err(timed_out(
                &format!("the command run {run}"),
                timeout,
                "atlas jobs --follow",
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until the instance `id` (shown as `sid`) is `target`. It fails
/// when its `last_error` changes from `error_before` (its work failed for
/// good) or it settles on a status that is neither `target` nor one of
/// `under_way`.
///
/// # Errors
/// The work failed (naming the instance, the job kind and its error);
/// requests failing; the timeout.
pub async fn instance_status(
    client: &Client,
    id: &str,
    sid: &str,
    target: &str,
    under_way: &[&str],
    error_before: &Value,
    timeout: Duration,
) -> anyhow::Result<Value> {
    let start = Instant::now();
    let pb = bar(None);
    loop {
        let inst = client.get(&format!("instance/{id}"), &[], false).await?;
        let status = plain(&inst["status"]);
        pb.set_message(format!("instance {sid}: {status}, waiting for {target}"));
        let error = &inst["last_error"];
        if !error.is_null() && error != error_before {
            pb.finish_and_clear();
            bail!(
                "instance {sid} failed: its {} job {} failed for good: {} (status now {status}); \
                 see `atlas jobs --instance {sid}`",
                plain(&error["kind"]),
                plain(&error["job"]),
                plain(&error["error"])
            );
        }
        if status == target {
            pb.finish_and_clear();
            return Ok(inst);
        }
        if !under_way.contains(&status.as_str()) {
            pb.finish_and_clear();
            bail!("instance {sid} is {status}, not {target}: see `atlas jobs --instance {sid}` for what happened");
        }
        if start.elapsed() > timeout {
            pb.finish_and_clear();
            return Err(timed_out(
                &format!("instance {sid} ({status})"),
                timeout,
                &format!("atlas jobs --instance {sid} --follow"),
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until the backup `id` is `complete` or `failed`; answers it.
///
/// # Errors
/// Requests failing; the timeout.
pub async fn backup(client: &Client, id: &str, timeout: Duration) -> anyhow::Result<Value> {
    let start = Instant::now();
    let pb = bar(None);
    loop {
        let b = client.get(&format!("backup/{id}"), &[], false).await?;
        let state = plain(&b["state"]);
        pb.set_message(format!("backup {id}: {state}"));
        if matches!(state.as_str(), "complete" | "failed") {
            pb.finish_and_clear();
            return Ok(b);
        }
        if start.elapsed() > timeout {
            pb.finish_and_clear();
            return Err(timed_out(&format!("backup {id}"), timeout, "atlas backup list"));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until rollout `id` has stopped moving (`completed`, `halted`,
/// `aborted` or `paused`); answers it. The bar counts the instances that
/// ended (done and failed) of all it has to do.
///
/// # Errors
/// Requests failing; the timeout.
pub async fn rollout(client: &Client, id: &str, timeout: Duration) -> anyhow::Result<Value> {
    let start = Instant::now();
    let pb = bar(Some(0));
    loop {
        let r = client.get(&format!("rollout/{id}"), &[], false).await?;
        let n = |k: &str| r[k].as_u64().unwrap_or(0);
        let failed = r["failed"].as_array().map_or(0, Vec::len) as u64;
        let state = plain(&r["state"]);
        pb.set_length(n("done") + failed + n("remaining"));
        pb.set_position(n("done") + failed);
        pb.set_message(format!(
            "rollout {id}: {state}, wave {}, {} done, {failed} failed, {} remaining",
            n("wave"),
            n("done"),
            n("remaining")
        ));
        if matches!(state.as_str(), "completed" | "halted" | "aborted" | "paused") {
            pb.finish_and_clear();
            return Ok(r);
        }
        if start.elapsed() > timeout {
            pb.finish_and_clear();
            return Err(timed_out(
                &format!("rollout {id} ({state})"),
                timeout,
                &format!("atlas rollout show {id}"),
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}
