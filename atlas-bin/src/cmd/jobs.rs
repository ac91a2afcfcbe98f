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

/// What a job is about: its instance (by sid when known), code item,
/// backup, command or periodic task.
fn subject(job: &Value, sids: &HashMap<String, String>) -> String {
    for k in ["instance", "code", "backup", "command", "task"] {
        if let Some(v) = job.pointer(&format!("/payload/{k}")).filter(|v| v.is_string()) {
            let id = plain(v);
            return match sids.get(&id) {
                Some(sid) if k == "instance" => format!("instance {sid}"),
                _ => format!("{k} {id}"),
            };
        }
    }
    String::new()
}

fn row(job: &Value, sids: &HashMap<String, String>) -> Vec<String> {
    vec![
        field(job, "/_id"),
        field(job, "/kind"),
        field(job, "/status"),
        field(job, "/attempts"),
        field(job, "/created"),
        subject(job, sids),
        short(&field(job, "/last_error"), 60),
    ]
}

/// The sids of the live instances the jobs are about, by id (one query;
/// deleted instances keep showing their id).
async fn sids_of(client: &Client, jobs: &[Value], sids: &mut HashMap<String, String>) -> anyhow::Result<()> {
    let mut ids: Vec<String> = jobs
        .iter()
        .filter_map(|j| j.pointer("/payload/instance").and_then(Value::as_str))
        .filter(|id| !sids.contains_key(*id))
        .map(str::to_owned)
        .collect();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(());
    }
    let query = [
        ("where", json!({"_id": {"$in": ids}}).to_string()),
        ("projection", json!({"sid": 1}).to_string()),
    ];
    for inst in client.list("instance", &query, false, None).await? {
        sids.insert(plain(&inst["_id"]), plain(&inst["sid"]));
    }
    Ok(())
}

const HEADERS: [&str; 7] = ["ID", "KIND", "STATUS", "ATTEMPTS", "CREATED", "ABOUT", "ERROR"];

/// Runs `atlas jobs`.
///
/// # Errors
/// Unknown instance; what the server refused.
pub async fn run(client: &Client, args: JobsCmd) -> anyhow::Result<()> {
    let out = Output::new(args.conn.json);
    let path = match &args.instance {
        // By id, the jobs of a deleted instance stay readable.
        Some(key) if lookup::is_id(key) => format!("instance/{key}/jobs"),
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
    let mut sids = HashMap::new();
    if !out.json {
        sids_of(client, &jobs, &mut sids).await?;
    }
    if !args.follow {
        if out.json {
            out.json_value(&Value::Array(jobs.iter().map(record).collect()));
        } else {
            let rows: Vec<Vec<String>> = jobs.iter().map(|j| row(j, &sids)).collect();
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
                    rows.push(row(job, &sids));
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
        if !out.json {
            sids_of(client, &batch, &mut sids).await?;
        }
    }
}
