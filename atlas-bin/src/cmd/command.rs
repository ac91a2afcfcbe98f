//! `atlas command list|add|run`: command items on a running server. `run
//! --wait` follows the run until every instance has finished, prints each
//! instance's outcome and fails naming the instances that failed.

use anyhow::bail;
use serde_json::{json, Value};

use crate::client::args::{CommandAction, Connection};
use crate::client::http::plain;
use crate::client::output::{field, record, short, Output};
use crate::client::{lookup, wait, Client};

/// Runs `atlas command …`.
///
/// # Errors
/// What the server refused; under `--wait`, a run where any instance
/// failed.
pub async fn run(client: &Client, conn: &Connection, action: CommandAction) -> anyhow::Result<()> {
    let out = Output::new(conn.json);
    match action {
        CommandAction::List => {
            let items = client
                .list("commands", &[("sort", "name".to_owned())], false, None)
                .await?;
            if out.json {
                out.json_value(&Value::Array(items.iter().map(record).collect()));
                return Ok(());
            }
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|c| {
                    vec![
                        field(c, "/name"),
                        short(&field(c, "/command"), 40),
                        field(c, "/query"),
                        field(c, "/_id"),
                    ]
                })
                .collect();
            out.table(&["NAME", "COMMAND", "QUERY", "ID"], &rows, None);
            Ok(())
        }
        CommandAction::Add {
            name,
            command,
            query,
            all_servers,
        } => {
            lookup::json_object(&query, "--query")?;
            let body =
                json!({"name": name, "command": command, "query": query, "single_server": !all_servers});
            let written = client.post("commands", &body).await?;
            let id = plain(&written["_id"]);
            if out.json {
                out.json_value(&json!({"action": "add", "command": {"_id": id, "name": name}}));
            } else {
                println!("added command item '{name}' {id}");
            }
            Ok(())
        }
        CommandAction::Run { command, wait } => run_command(client, conn, out, &command, wait).await,
    }
}

async fn run_command(
    client: &Client,
    conn: &Connection,
    out: Output,
    key: &str,
    wait: bool,
) -> anyhow::Result<()> {
    let item = lookup::command_item(client, key).await?;
    let (id, name) = (plain(&item["_id"]), plain(&item["name"]));
    let queued = client
        .post(&format!("commands/{id}/execute"), &Value::Null)
        .await?;
    let run = plain(&queued["_id"]);
    if !wait {
        if out.json {
            out.json_value(&json!({"action": "run", "command": id, "job": run}));
        } else {
            println!("queued run {run} of '{name}': follow it with `atlas jobs --follow`");
        }
        return Ok(());
    }
    if !out.json {
        println!("running '{name}' (run job {run})");
    }
    let job = wait::command_run(client, &run, conn.timeout()).await?;
    if job["status"] == "dead" {
        bail!("the run {run} of '{name}' failed: {}", field(&job, "/last_error"));
    }
    let summary = job.pointer("/result/summary").cloned().unwrap_or(Value::Null);
    let instances = client
        .list(
            "jobs",
            &[("where", json!({ "payload.run": run }).to_string())],
            true,
            None,
        )
        .await?;
    let outcomes: Vec<Value> = instances
        .iter()
        .map(|j| {
            json!({
                "sid": j.pointer("/result/sid").cloned().unwrap_or(Value::Null),
                "instance": j.pointer("/payload/instance").cloned().unwrap_or(Value::Null),
                "job": j["_id"],
                "status": j["status"],
                "exit_status": j.pointer("/result/exit_status").cloned().unwrap_or(Value::Null),
                "stdout": j.pointer("/result/stdout").cloned().unwrap_or(Value::Null),
                "stderr": j.pointer("/result/stderr").cloned().unwrap_or(Value::Null),
                "error": j["last_error"],
            })
        })
        .collect();
    if out.json {
        out.json_value(
            &json!({"action": "run", "command": id, "job": run, "summary": summary, "instances": outcomes}),
        );
    } else {
        let rows: Vec<Vec<String>> = outcomes
            .iter()
            .map(|o| {
                let last_line = field(o, "/stdout").lines().last().unwrap_or("").to_owned();
                vec![
                    field(o, "/sid"),
                    field(o, "/status"),
                    field(o, "/exit_status"),
                    short(
                        if o["error"].is_null() {
                            &last_line
                        } else {
                            o["error"].as_str().unwrap_or("")
                        },
                        60,
                    ),
                ]
            })
            .collect();
        if summary.is_null() {
            // A hook run that does its work in the run job itself.
            println!("run {run} of '{name}': {}", out.status(&field(&job, "/status")));
        } else {
            out.table(
                &["SID", "STATUS", "EXIT", "OUTPUT (last line) / ERROR"],
                &rows,
                Some(1),
            );
            println!(
                "{} instance(s): {} succeeded, {} failed",
                field(&summary, "/total"),
                field(&summary, "/succeeded"),
                field(&summary, "/failed")
            );
        }
    }
    if summary["outcome"] == "failed" {
        let sids: Vec<String> = summary["failed_sids"]
            .as_array()
            .map(|a| a.iter().map(plain).collect())
            .unwrap_or_default();
        bail!(
            "'{name}' failed on {} instance(s): {}; see `atlas jobs --instance <sid>`",
            sids.len(),
            sids.join(", ")
        );
    }
    Ok(())
}
