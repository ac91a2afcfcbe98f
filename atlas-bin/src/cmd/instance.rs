//! `atlas instance list|show|create|install|launch|take-down|restore|delete`
//! (and `verify|heal`, in `drift`):
//! instances on a running server, over its HTTP API. Status changes are
//! PATCHes with the record's current etag (fetched here, retried once on
//! a 412); `--wait` follows the instance until its work settles.

use anyhow::bail;
use reqwest::{Method, StatusCode};
use serde_json::{json, Map, Value};

use crate::client::args::{Connection, InstanceAction};
use crate::client::http::{plain, status_of};
use crate::client::output::{field, record, Output};
use crate::client::{lookup, wait, Client};

/// Runs `atlas instance …`.
///
/// # Errors
/// What the server refused, unknown sids, failed work under `--wait`.
pub async fn run(client: &Client, conn: &Connection, action: InstanceAction) -> anyhow::Result<()> {
    let out = Output::new(conn.json);
    match action {
        InstanceAction::List { status, where_ } => list(client, out, status, where_).await,
        InstanceAction::Show { instance } => {
            let inst = lookup::instance(client, &instance).await?;
            show(out, &inst);
            Ok(())
        }
        InstanceAction::Create {
            sid,
            path,
            type_,
            core,
            profile,
            restore_from,
            wait,
        } => {
            let mut body = Map::new();
            for (k, v) in [
                ("sid", sid),
                ("path", path),
                ("type", type_),
                ("restore_from", restore_from),
            ] {
                if let Some(v) = v {
                    body.insert(k.into(), v.into());
                }
            }
            let mut code = Map::new();
            for (k, v) in [("core", core), ("profile", profile)] {
                if let Some(v) = v {
                    code.insert(k.into(), v.into());
                }
            }
            if !code.is_empty() {
                body.insert("code".into(), code.into());
            }
            let written = client.post("instance", &Value::Object(body)).await?;
            let id = plain(&written["_id"]);
            let inst = client.get(&format!("instance/{id}"), &[], false).await?;
            let sid = plain(&inst["sid"]);
            if !out.json {
                println!("created instance {sid} ({id}): pending, being provisioned");
            }
            let inst = if wait {
                wait::instance_status(
                    client,
                    &id,
                    &sid,
                    "available",
                    &["pending"],
                    &Value::Null,
                    conn.timeout(),
                )
                .await?
            } else {
                inst
            };
            done(out, "create", &inst);
            Ok(())
        }
        InstanceAction::Install { instance, wait } => {
            change_status(
                client,
                conn,
                out,
                &instance,
                "install",
                "installing",
                "installed",
                wait,
            )
            .await
        }
        InstanceAction::Launch {
            instance,
            route,
            route_type,
            wait,
        } => launch(client, conn, out, &instance, &route, route_type, wait).await,
        InstanceAction::TakeDown { instance, wait } => {
            change_status(
                client,
                conn,
                out,
                &instance,
                "take-down",
                "take_down",
                "down",
                wait,
            )
            .await
        }
        InstanceAction::Restore { instance, wait } => {
            change_status(
                client,
                conn,
                out,
                &instance,
                "restore",
                "restore",
                "installed",
                wait,
            )
            .await
        }
        InstanceAction::Verify { instance, wait } => {
            super::drift::run(client, conn, out, &instance, super::drift::Check::Verify, wait).await
        }
        InstanceAction::Heal { instance, wait } => {
            super::drift::run(client, conn, out, &instance, super::drift::Check::Heal, wait).await
        }
        InstanceAction::Delete {
            instance,
            force,
            wait,
        } => delete(client, conn, out, &instance, force, wait).await,
    }
}

async fn list(
    client: &Client,
    out: Output,
    status: Option<String>,
    where_: Option<String>,
) -> anyhow::Result<()> {
    let mut clauses = Vec::new();
    if let Some(w) = where_ {
        clauses.push(lookup::json_object(&w, "--where")?);
    }
    if let Some(s) = status {
        clauses.push(json!({ "status": s }));
    }
    let mut query = vec![("sort", "sid".to_owned())];
    match clauses.len() {
        0 => {}
        1 => query.push(("where", clauses[0].to_string())),
        _ => query.push(("where", json!({ "$and": clauses }).to_string())),
    }
    let items = client.list("instance", &query, false, None).await?;
    if out.json {
        out.json_value(&Value::Array(items.iter().map(record).collect()));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            vec![
                field(i, "/sid"),
                field(i, "/status"),
                field(i, "/type"),
                field(i, "/path"),
                field(i, "/_id"),
                field(i, "/_updated"),
            ]
        })
        .collect();
    out.table(
        &["SID", "STATUS", "TYPE", "PATH", "ID", "UPDATED"],
        &rows,
        Some(1),
    );
    Ok(())
}

fn show(out: Output, inst: &Value) {
    if out.json {
        out.json_value(&record(inst));
        return;
    }
    let rows = [
        ("sid", field(inst, "/sid")),
        ("id", field(inst, "/_id")),
        ("status", out.status(&field(inst, "/status"))),
        ("type", field(inst, "/type")),
        ("path", field(inst, "/path")),
        ("environment", field(inst, "/environment")),
        ("core", field(inst, "/code/core")),
        ("profile", field(inst, "/code/profile")),
        ("primary route", field(inst, "/routes/primary_route")),
        ("created", field(inst, "/_created")),
        ("updated", field(inst, "/_updated")),
    ];
    for (k, v) in rows {
        if !v.is_empty() {
            println!("{:<14} {v}", format!("{k}:"));
        }
    }
    if let Some(e) = inst.get("last_error").filter(|e| !e.is_null()) {
        println!(
            "{:<14} {} job {} failed at {}: {}",
            "last error:",
            field(e, "/kind"),
            field(e, "/job"),
            field(e, "/at"),
            field(e, "/error")
        );
    }
}

/// Prints the outcome of an action on an instance.
fn done(out: Output, action: &str, inst: &Value) {
    if out.json {
        out.json_value(&json!({"action": action, "instance": record(inst)}));
    } else {
        println!(
            "instance {}: {}",
            field(inst, "/sid"),
            out.status(&field(inst, "/status"))
        );
    }
}

/// PATCHes `{"status": request}` and, with `wait`, waits for `target`.
#[allow(clippy::too_many_arguments)]
async fn change_status(
    client: &Client,
    conn: &Connection,
    out: Output,
    key: &str,
    action: &str,
    request: &str,
    target: &str,
    wait: bool,
) -> anyhow::Result<()> {
    let inst = lookup::instance(client, key).await?;
    let (id, sid) = (plain(&inst["_id"]), plain(&inst["sid"]));
    let error_before = inst["last_error"].clone();
    client
        .write_item(Method::PATCH, "instance", &format!("instance/{id}"), &[], |_| {
            Ok(Some(json!({ "status": request })))
        })
        .await?;
    if !out.json {
        println!("instance {sid}: {request} requested");
    }
    let inst = if wait {
        wait::instance_status(
            client,
            &id,
            &sid,
            target,
            &[request],
            &error_before,
            conn.timeout(),
        )
        .await?
    } else {
        client.get(&format!("instance/{id}"), &[], false).await?
    };
    done(out, action, &inst);
    Ok(())
}

/// The route type for an instance's pool.
fn route_type_of(pool: &str) -> &str {
    match pool {
        "WWWLegacy" => "legacy",
        "" => "poolb-express",
        other => other,
    }
}

async fn launch(
    client: &Client,
    conn: &Connection,
    out: Output,
    key: &str,
    source: &str,
    route_type: Option<String>,
    wait: bool,
) -> anyhow::Result<()> {
    let inst = lookup::instance(client, key).await?;
    let (id, sid) = (plain(&inst["_id"]), plain(&inst["sid"]));
    match inst["status"].as_str().unwrap_or("") {
        "installed" => {}
        "available" => {
            bail!("instance {sid} is available: install it first with `atlas instance install {sid} --wait`")
        }
        "launched" => bail!("instance {sid} is already launched"),
        other => bail!("instance {sid} is {other}: only an installed instance can be launched"),
    }
    let route_type =
        route_type.unwrap_or_else(|| route_type_of(inst["pool"].as_str().unwrap_or("")).to_owned());
    let body =
        json!({"route_type": route_type, "source": source, "instance_id": id, "active_on_launch": true});
    let route_id = match client.post("route", &body).await {
        Ok(written) => plain(&written["_id"]),
        Err(e)
            if status_of(&e) == Some(StatusCode::UNPROCESSABLE_ENTITY)
                && e.to_string().contains("not unique") =>
        {
            // Launched before and failed half-way? Reuse this instance's route.
            let found = client
                .list(
                    "route",
                    &[("where", json!({ "source": source }).to_string())],
                    false,
                    Some(1),
                )
                .await?;
            match found.first() {
                Some(r) if r["instance_id"] == id.as_str() => plain(&r["_id"]),
                Some(r) => bail!(
                    "the route source '{source}' is taken by route {} (instance {}): pick another --route",
                    plain(&r["_id"]),
                    plain(&r["instance_id"])
                ),
                None => return Err(e),
            }
        }
        Err(e) => return Err(e),
    };
    if !out.json {
        println!("route {route_id}: /{source} ({route_type})");
    }
    client
        .write_item(Method::PATCH, "instance", &format!("instance/{id}"), &[], |_| {
            Ok(Some(json!({"routes": {"primary_route": route_id}})))
        })
        .await?;
    let error_before = client.get(&format!("instance/{id}"), &[], false).await?["last_error"].clone();
    client
        .write_item(Method::PATCH, "instance", &format!("instance/{id}"), &[], |_| {
            Ok(Some(json!({"status": "launching"})))
        })
        .await?;
    if !out.json {
        println!("instance {sid}: launching requested");
    }
    let inst = if wait {
        wait::instance_status(
            client,
            &id,
            &sid,
            "launched",
            &["launching"],
            &error_before,
            conn.timeout(),
        )
        .await?
    } else {
        client.get(&format!("instance/{id}"), &[], false).await?
    };
    if out.json {
        out.json_value(&json!({"action": "launch", "route": route_id, "instance": record(&inst)}));
    } else {
        println!("instance {sid}: {}", out.status(&field(&inst, "/status")));
    }
    Ok(())
}

async fn delete(
    client: &Client,
    conn: &Connection,
    out: Output,
    key: &str,
    force: bool,
    wait: bool,
) -> anyhow::Result<()> {
    let inst = lookup::instance(client, key).await?;
    let (id, sid) = (plain(&inst["_id"]), plain(&inst["sid"]));
    let query = if force {
        vec![("force", "true".to_owned())]
    } else {
        vec![]
    };
    let deleted = client
        .write_item(
            Method::DELETE,
            "instance",
            &format!("instance/{id}"),
            &query,
            |_| Ok(Some(Value::Null)),
        )
        .await;
    if let Err(e) = deleted {
        if status_of(&e) == Some(StatusCode::CONFLICT) && inst["status"] == "launched" && !force {
            bail!("{e}; with the CLI: take it down first (atlas instance take-down {sid}), or add --force");
        }
        return Err(e);
    }
    let mut job = Value::Null;
    if wait {
        let jobs = client
            .get(
                &format!("instance/{id}/jobs"),
                &[("where", json!({"kind": "instance_remove"}).to_string())],
                true,
            )
            .await?;
        if let Some(j) = jobs["_items"].as_array().and_then(|a| a.first()) {
            let ended = wait::jobs(client, &[plain(&j["_id"])], "removal", conn.timeout()).await?;
            job = ended.into_iter().next().unwrap_or(Value::Null);
            if job["status"] == "dead" {
                bail!(
                    "instance {sid} was deleted but its removal failed: {}; retry it with POST /jobs/{}/retry",
                    field(&job, "/last_error"),
                    field(&job, "/_id")
                );
            }
        }
    }
    if out.json {
        out.json_value(
            &json!({"action": "delete", "instance": {"_id": id, "sid": sid}, "job": record(&job)}),
        );
    } else if wait {
        println!("instance {sid}: deleted and removed (a pre_delete backup was kept)");
    } else {
        println!("instance {sid}: deleted; its removal is queued (a pre_delete backup is kept first)");
    }
    Ok(())
}
