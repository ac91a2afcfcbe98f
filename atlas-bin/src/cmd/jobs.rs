//! `atlas jobs [--instance SID] [--status S] [--kind K] [--follow]`: the
//! server's job queue, newest first; `--follow` keeps printing jobs as
//! they are queued and change status, until interrupted.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::client::args::JobsCmd;
use crate::client::http::plain;
use crate::client::output::{field, record, short, Output};
use crate::client::{lookup, Client};

/// What a job is about: the id of its instance, code item, backup or
/// command.
fn subject(job: &Value) -> String {
    for k in ["instance", "code", "backup", "command"] {
        if let Some(v) = job.pointer(&format!("/payload/{k}")).filter(|v| v.is_string()) {
            return format!("{k} {}", plain(v));
        }
    }
    String::new()
}

fn row(job: &Value) -> Vec<String> {
    vec![
        field(job, "/_id"),
        field(job, "/kind"),
        field(job, "/status"),
        field(job, "/attempts"),
        field(job, "/created"),
        subject(job),
        short(&field(job, "/last_error"), 60),
    ]
}

const HEADERS: [&str; 7] = ["ID", "KIND", "STATUS", "ATTEMPTS", "CREATED", "ABOUT", "ERROR"];

/// Runs `atlas jobs`.
///
/// # Errors
/// Unknown instance; what the server refused.
pub async fn run(client: &Client, args: JobsCmd) -> anyhow::Result<()> {
    let out = Output::new(args.conn.json);
    let path = match &args.instance {
        Some(key) => {
            let inst = lookup::instance(client, key).await?;
            format!("instance/{}/jobs", plain(&inst["_id"]))
        }
        None => "jobs".to_owned(),
    };
    let mut w = Map::new();
    if let Some(s) = &args.status {
        w.insert("status".into(), s.clone().into());
    }
    if let Some(k) = &args.kind {
        w.insert("kind".into(), k.clone().into());
    }
    let mut query = vec![("sort", "-created".to_owned())];
    if !w.is_empty() {
        query.push(("where", Value::Object(w).to_string()));
    }
    let jobs = client.list(&path, &query, true, Some(args.limit)).await?;
    if !args.follow {
        if out.json {
            out.json_value(&Value::Array(jobs.iter().map(record).collect()));
        } else {
            let rows: Vec<Vec<String>> = jobs.iter().map(row).collect();
            out.table(&HEADERS, &rows, Some(2));
        }
        return Ok(());
    }
    // Follow: oldest first, then each new job or status change as a line.
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut first = true;
    let mut batch: Vec<Value> = jobs.into_iter().rev().collect();
    loop {
        let mut rows = Vec::new();
        for job in &batch {
            let id = plain(&job["_id"]);
            let status = plain(&job["status"]);
            if seen.get(&id) != Some(&status) {
                seen.insert(id, status);
                if out.json {
                    println!("{}", json!(record(job)));
                } else {
                    rows.push(row(job));
                }
            }
        }
        if !out.json && (!rows.is_empty() || first) {
            if first {
                out.table(&HEADERS, &rows, Some(2));
            } else {
                for r in rows {
                    let status = out.status(&r[2]);
                    println!(
                        "{}  {}  {status}  {}  {}  {}  {}",
                        r[0], r[1], r[3], r[4], r[5], r[6]
                    );
                }
            }
        }
        first = false;
        tokio::time::sleep(Duration::from_secs(1)).await;
        batch = client.list(&path, &query, true, Some(args.limit)).await?;
        batch.reverse();
    }
}
