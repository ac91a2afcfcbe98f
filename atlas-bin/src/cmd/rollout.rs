//! `atlas rollout list|show|start|pause|resume|abort`: rollouts on a
//! running server (`/rollout`, `POST /rollout/<id>/pause|resume|abort`),
//! and [`settle`], the `--wait` of a rollout (also `atlas code release`'s,
//! whose PATCH is an in-place rollout).

use anyhow::bail;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::client::args::{Connection, FailedChoice, RolloutAction};
use crate::client::http::{plain, status_of};
use crate::client::output::{field, record, Output};
use crate::client::{lookup, wait, Client};

/// Runs `atlas rollout …`.
///
/// # Errors
/// Unknown rollouts; what the server refused; under `--wait`, a rollout
/// that halted, was aborted or left instances failed.
pub async fn run(client: &Client, conn: &Connection, action: RolloutAction) -> anyhow::Result<()> {
    let out = Output::new(conn.json);
    match action {
        RolloutAction::List { state } => {
            let mut query = vec![("sort", "-_created".to_owned())];
            if let Some(s) = state {
                query.push(("where", json!({ "state": s }).to_string()));
            }
            let items = client.list("rollout", &query, false, None).await?;
            if out.json {
                out.json_value(&Value::Array(items.iter().map(record).collect()));
                return Ok(());
            }
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|r| {
                    vec![
                        field(r, "/_id"),
                        field(r, "/state"),
                        field(r, "/wave"),
                        field(r, "/done"),
                        failed_count(r).to_string(),
                        field(r, "/remaining"),
                        field(r, "/from"),
                        field(r, "/to"),
                    ]
                })
                .collect();
            out.table(
                &["ID", "STATE", "WAVE", "DONE", "FAILED", "REMAINING", "FROM", "TO"],
                &rows,
                Some(1),
            );
            Ok(())
        }
        RolloutAction::Show { rollout } => {
            let r = get(client, &rollout).await?;
            if out.json {
                out.json_value(&record(&r));
            } else {
                describe(out, &r);
            }
            Ok(())
        }
        RolloutAction::Start {
            from,
            to,
            where_,
            wave_size,
            max_failures,
            continue_on_failure,
            pause_between,
            backup,
            wait,
        } => {
            for (flag, id) in [("--from", &from), ("--to", &to)] {
                if !lookup::is_id(id) {
                    bail!("{flag} '{id}' is not a code item id: `atlas code list` shows them");
                }
            }
            let mut body = json!({ "from": from, "to": to, "backup": backup });
            if let Some(w) = where_ {
                // Checked here so the error names the flag; sent as the API wants it, a string.
                lookup::json_object(&w, "--where")?;
                body["where"] = w.into();
            }
            for (name, v) in [
                ("wave_size", wave_size),
                ("max_failures", max_failures),
                ("pause_between", pause_between),
            ] {
                if let Some(v) = v {
                    body[name] = v.into();
                }
            }
            if continue_on_failure {
                body["on_failure"] = "continue".into();
            }
            let written = client.post("rollout", &body).await?;
            let id = plain(&written["_id"]);
            if !out.json {
                println!("rollout {id} of {from} to {to}: pending");
            }
            finish(client, conn, out, "start", &id, wait).await
        }
        RolloutAction::Pause { rollout } => act(client, conn, out, &rollout, "pause", None, false).await,
        RolloutAction::Resume {
            rollout,
            failed,
            wait,
        } => {
            let body = failed.map(|f| {
                json!({ "failed": match f {
                    FailedChoice::Retry => "retry",
                    FailedChoice::Skip => "skip",
                } })
            });
            act(client, conn, out, &rollout, "resume", body, wait).await
        }
        RolloutAction::Abort { rollout } => act(client, conn, out, &rollout, "abort", None, false).await,
    }
}

fn failed_count(r: &Value) -> usize {
    r["failed"].as_array().map_or(0, Vec::len)
}

/// Reads rollout `id`, naming it when there is none.
async fn get(client: &Client, id: &str) -> anyhow::Result<Value> {
    if !lookup::is_id(id) {
        bail!("'{id}' is not a rollout id: `atlas rollout list` shows them");
    }
    match client.get(&format!("rollout/{id}"), &[], false).await {
        Err(e) if status_of(&e) == Some(StatusCode::NOT_FOUND) => {
            bail!("no rollout with id {id}: `atlas rollout list` shows them")
        }
        other => other,
    }
}

/// `pause`, `resume` or `abort` of rollout `id`.
async fn act(
    client: &Client,
    conn: &Connection,
    out: Output,
    id: &str,
    action: &str,
    body: Option<Value>,
    wait: bool,
) -> anyhow::Result<()> {
    get(client, id).await?;
    let r = client
        .post(&format!("rollout/{id}/{action}"), &body.unwrap_or(Value::Null))
        .await?;
    if !out.json {
        println!("rollout {id}: {}", out.status(&field(&r, "/state")));
    }
    finish(client, conn, out, action, id, wait).await
}

/// Prints rollout `id` after `action` (waiting first under `--wait`);
/// fails as [`settle`] does.
async fn finish(
    client: &Client,
    conn: &Connection,
    out: Output,
    action: &str,
    id: &str,
    wait: bool,
) -> anyhow::Result<()> {
    let r = if wait {
        wait::rollout(client, id, conn.timeout()).await?
    } else {
        client.get(&format!("rollout/{id}"), &[], false).await?
    };
    if out.json {
        out.json_value(&json!({ "action": action, "rollout": record(&r) }));
    } else if wait {
        describe(out, &r);
    }
    if wait {
        settle(&r)?;
    }
    Ok(())
}

/// A finished rollout's verdict: `Ok` when it completed without failed
/// instances.
///
/// # Errors
/// It halted, was aborted or paused, or completed with failed instances;
/// the message names them with their errors and what to do.
pub fn settle(r: &Value) -> anyhow::Result<()> {
    let id = field(r, "/_id");
    let failures: Vec<String> = r["failed"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| format!("{}: {}", field(f, "/sid"), field(f, "/error")))
        .collect();
    let named = failures.join("; ");
    match r["state"].as_str().unwrap_or_default() {
        "completed" if failures.is_empty() => Ok(()),
        "completed" => bail!(
            "rollout {id} completed, but {} instance(s) failed: {named}",
            failures.len()
        ),
        "halted" => bail!(
            "rollout {id} halted in wave {}: {} instance(s) failed: {named}; fix the cause, then \
             `atlas rollout resume {id} --failed retry` (or `--failed skip` to leave them out)",
            field(r, "/wave"),
            failures.len()
        ),
        "paused" => bail!("rollout {id} is paused: `atlas rollout resume {id}` goes on"),
        state => bail!("rollout {id} is {state}, not completed"),
    }
}

/// The rollout for people.
fn describe(out: Output, r: &Value) {
    println!(
        "rollout {}: {}",
        field(r, "/_id"),
        out.status(&field(r, "/state"))
    );
    println!("  from {} to {}", field(r, "/from"), field(r, "/to"));
    if let Some(w) = r["where"].as_str() {
        println!("  where {w}");
    }
    println!(
        "  wave {} (at most {} instances), done {}, failed {}, remaining {}",
        field(r, "/wave"),
        field(r, "/wave_size"),
        field(r, "/done"),
        failed_count(r),
        field(r, "/remaining")
    );
    for f in r["failed"].as_array().into_iter().flatten() {
        println!("  failed {}: {}", field(f, "/sid"), field(f, "/error"));
    }
    if let Some(s) = r["skipped"].as_array().filter(|s| !s.is_empty()) {
        let sids: Vec<String> = s.iter().map(plain).collect();
        println!("  skipped {}", sids.join(", "));
    }
}
