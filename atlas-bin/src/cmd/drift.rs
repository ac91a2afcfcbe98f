//! `atlas instance verify|heal`: queue the instance's drift check or repair
//! (`POST /instance/<id>/verify|heal`) and, under `--wait`, follow the job
//! and print the instance's `drift` findings; a drifted instance is a
//! non-zero exit, so scripts can tell.

use anyhow::bail;
use serde_json::{json, Value};

use crate::client::args::Connection;
use crate::client::http::plain;
use crate::client::output::{field, record, Output};
use crate::client::{lookup, wait, Client};

/// Which drift action.
#[derive(Debug, Clone, Copy)]
pub enum Check {
    /// Compare only.
    Verify,
    /// Repair what is safe to repair, then compare again.
    Heal,
}

impl Check {
    fn path(self) -> &'static str {
        match self {
            Check::Verify => "verify",
            Check::Heal => "heal",
        }
    }
}

/// Runs `atlas instance verify|heal INSTANCE [--wait]`.
///
/// # Errors
/// Unknown instances; what the server refused (409 for an instance in a
/// status that has nothing on the servers); under `--wait`, a failed job
/// or drift found (verify) or left (heal).
pub async fn run(
    client: &Client,
    conn: &Connection,
    out: Output,
    key: &str,
    check: Check,
    wait: bool,
) -> anyhow::Result<()> {
    let inst = lookup::instance(client, key).await?;
    let (id, sid) = (plain(&inst["_id"]), plain(&inst["sid"]));
    let queued = client
        .post(&format!("instance/{id}/{}", check.path()), &Value::Null)
        .await?;
    let job_id = plain(&queued["_id"]);
    if !out.json {
        println!("{} of {sid} queued (job {job_id})", check.path());
    }
    if !wait {
        if out.json {
            out.json_value(
                &json!({"action": check.path(), "instance": {"_id": id, "sid": sid}, "job": record(&queued)}),
            );
        }
        return Ok(());
    }
    let job = wait::jobs(
        client,
        std::slice::from_ref(&job_id),
        check.path(),
        conn.timeout(),
    )
    .await?
    .into_iter()
    .next()
    .unwrap_or(Value::Null);
    let after = client.get(&format!("instance/{id}"), &[], false).await?;
    let findings = after
        .pointer("/drift/findings")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if out.json {
        out.json_value(&json!({
            "action": check.path(),
            "instance": {"_id": id, "sid": sid},
            "job": record(&job),
            "drift": after["drift"],
        }));
    } else {
        let rows: Vec<Vec<String>> = findings
            .iter()
            .map(|f| {
                vec![
                    field(f, "/host"),
                    field(f, "/kind"),
                    if f["healable"] == true { "yes" } else { "no" }.to_owned(),
                    field(f, "/detail"),
                ]
            })
            .collect();
        if rows.is_empty() {
            println!("{sid}: no drift (checked {})", field(&after, "/drift/checked"));
        } else {
            out.table(&["HOST", "KIND", "HEALABLE", "DETAIL"], &rows, None);
        }
    }
    if job["status"] == "dead" {
        bail!(
            "the {} of {sid} failed: {}; see `atlas jobs --instance {sid}`",
            check.path(),
            field(&job, "/last_error")
        );
    }
    if !findings.is_empty() {
        match check {
            Check::Verify => bail!(
                "instance {sid} has drifted: {} finding(s); `atlas instance heal {sid} --wait` repairs the healable ones",
                findings.len()
            ),
            Check::Heal => bail!(
                "instance {sid} still has {} finding(s) after the repair; those not healable (a database, a real file where a link belongs) need a person",
                findings.len()
            ),
        }
    }
    Ok(())
}
