//! `atlas backup list|create|restore`: backups of instances on a running
//! server (`POST /backup`, `POST /backup/<id>/restore`).

use anyhow::bail;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::client::args::{BackupAction, Connection};
use crate::client::http::{plain, status_of};
use crate::client::output::{field, record, Output};
use crate::client::{lookup, wait, Client};

/// Runs `atlas backup …`.
///
/// # Errors
/// Unknown instances or backups; what the server refused; a failed backup
/// or restore under `--wait`.
pub async fn run(client: &Client, conn: &Connection, action: BackupAction) -> anyhow::Result<()> {
    let out = Output::new(conn.json);
    match action {
        BackupAction::List { instance } => {
            let mut query = vec![("sort", "-_created".to_owned())];
            if let Some(key) = instance {
                let inst = lookup::instance(client, &key).await?;
                query.push(("where", json!({"instance": inst["_id"]}).to_string()));
            }
            let items = client.list("backup", &query, false, None).await?;
            if out.json {
                out.json_value(&Value::Array(items.iter().map(record).collect()));
                return Ok(());
            }
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|b| {
                    vec![
                        field(b, "/_id"),
                        field(b, "/sid"),
                        field(b, "/kind"),
                        field(b, "/state"),
                        field(b, "/size"),
                        field(b, "/_created"),
                        field(b, "/error"),
                    ]
                })
                .collect();
            out.table(
                &["ID", "SID", "KIND", "STATE", "BYTES", "CREATED", "ERROR"],
                &rows,
                Some(3),
            );
            Ok(())
        }
        BackupAction::Create { instance, wait } => {
            let inst = lookup::instance(client, &instance).await?;
            let sid = plain(&inst["sid"]);
            let written = client.post("backup", &json!({"instance": inst["_id"]})).await?;
            let id = plain(&written["_id"]);
            if !out.json {
                println!("backup {id} of {sid}: pending");
            }
            let backup = if wait {
                wait::backup(client, &id, conn.timeout()).await?
            } else {
                client.get(&format!("backup/{id}"), &[], false).await?
            };
            if out.json {
                out.json_value(&json!({"action": "create", "backup": record(&backup)}));
            } else if wait {
                println!("backup {id} of {sid}: {}", out.status(&field(&backup, "/state")));
            }
            if backup["state"] == "failed" {
                bail!("the backup {id} of {sid} failed: {}", field(&backup, "/error"));
            }
            Ok(())
        }
        BackupAction::Restore { backup, wait } => {
            if !lookup::is_id(&backup) {
                bail!("'{backup}' is not a backup id: `atlas backup list` shows them");
            }
            let queued = match client
                .post(&format!("backup/{backup}/restore"), &Value::Null)
                .await
            {
                Err(e) if status_of(&e) == Some(StatusCode::NOT_FOUND) => {
                    bail!("no backup with id {backup}: `atlas backup list` shows them")
                }
                other => other?,
            };
            let job_id = plain(&queued["_id"]);
            if !out.json {
                println!("restore of backup {backup} queued (job {job_id})");
            }
            let job = if wait {
                let ended =
                    wait::jobs(client, std::slice::from_ref(&job_id), "restore", conn.timeout()).await?;
                ended.into_iter().next().unwrap_or(Value::Null)
            } else {
                record(&queued)
            };
            if out.json {
                out.json_value(&json!({"action": "restore", "backup": backup, "job": record(&job)}));
            } else if wait {
                println!(
                    "restore of backup {backup}: {}",
                    out.status(&field(&job, "/status"))
                );
            }
            if job["status"] == "dead" {
                bail!(
                    "the restore of backup {backup} failed: {}",
                    field(&job, "/last_error")
                );
            }
            Ok(())
        }
    }
}
