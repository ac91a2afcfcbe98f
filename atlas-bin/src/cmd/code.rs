//! `atlas code list|add|current|release`: code items on a running server.
//! `release` applies the operator guide's rule
//! ([`atlas_core::recommend`]): POST a new item, or PATCH the
//! current one in place; it says which and why, then waits for the deploy
//! job(s) the write queued.

use std::collections::HashSet;

use anyhow::{bail, Context};
use atlas_core::{recommend, CurrentVersion, Recommendation};
use reqwest::Method;
use serde_json::{json, Value};

use crate::client::args::{CodeAction, Connection};
use crate::client::http::plain;
use crate::client::output::{field, record, short, Output};
use crate::client::{lookup, wait, Client};

/// Runs `atlas code …`.
///
/// # Errors
/// What the server refused; a failed deploy under `--wait`.
pub async fn run(client: &Client, conn: &Connection, action: CodeAction) -> anyhow::Result<()> {
    let out = Output::new(conn.json);
    match action {
        CodeAction::List { name, current } => {
            let mut w = serde_json::Map::new();
            if let Some(n) = name {
                w.insert("meta.name".into(), n.into());
            }
            if current {
                w.insert("meta.is_current".into(), true.into());
            }
            let mut query = vec![("sort", "meta.name,meta.code_type,-_created".to_owned())];
            if !w.is_empty() {
                query.push(("where", Value::Object(w).to_string()));
            }
            let items = client.list("code", &query, false, None).await?;
            table(out, &items);
            Ok(())
        }
        CodeAction::Add {
            from_file,
            name,
            version,
            code_type,
            git_url,
            commit,
            current,
            wait,
        } => {
            let mut body = match from_file {
                Some(f) => {
                    let text =
                        std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
                    lookup::json_object(&text, &format!("the code item in {}", f.display()))?
                }
                None => json!({
                    "git_url": git_url,
                    "commit_hash": commit,
                    "meta": {"name": name, "version": version, "code_type": code_type},
                }),
            };
            if current {
                body["meta"]["is_current"] = true.into();
            }
            let written = client.post("code", &body).await?;
            let id = plain(&written["_id"]);
            let item = client.get(&format!("code/{id}"), &[], false).await?;
            if !out.json {
                println!(
                    "added code item {} {} ({}) {id}",
                    field(&item, "/meta/name"),
                    field(&item, "/meta/version"),
                    field(&item, "/meta/code_type")
                );
            }
            let jobs = if wait {
                deploys(client, conn, &id, &HashSet::new()).await?
            } else {
                Vec::new()
            };
            if out.json {
                out.json_value(&json!({"action": "add", "code": record(&item), "jobs": jobs}));
            }
            Ok(())
        }
        CodeAction::Current { name } => {
            let items = lookup::current_code(client, &name).await?;
            if items.is_empty() {
                bail!("no current code item named '{name}': `atlas code list --name {name}` shows its items");
            }
            table(out, &items);
            Ok(())
        }
        CodeAction::Release {
            name,
            commit,
            version,
            fixes_error,
            needs_update_hook,
            no_wait,
        } => {
            release(
                client,
                conn,
                out,
                &name,
                &commit,
                version,
                fixes_error,
                needs_update_hook,
                !no_wait,
            )
            .await
        }
    }
}

fn table(out: Output, items: &[Value]) {
    if out.json {
        out.json_value(&Value::Array(items.iter().map(record).collect()));
        return;
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|c| {
            vec![
                field(c, "/meta/name"),
                field(c, "/meta/code_type"),
                field(c, "/meta/version"),
                if c.pointer("/meta/is_current") == Some(&Value::Bool(true)) {
                    "yes".into()
                } else {
                    String::new()
                },
                short(&field(c, "/commit_hash"), 12),
                field(c, "/_id"),
            ]
        })
        .collect();
    out.table(
        &["NAME", "TYPE", "VERSION", "CURRENT", "COMMIT", "ID"],
        &rows,
        None,
    );
}

/// The ids of the deploy jobs (`code_deploy`, `code_update`) of code item
/// `id`.
async fn deploy_jobs(client: &Client, id: &str) -> anyhow::Result<Vec<Value>> {
    client
        .list(
            "jobs",
            &[(
                "where",
                json!({"payload.code": id, "kind": {"$in": ["code_deploy", "code_update"]}}).to_string(),
            )],
            true,
            None,
        )
        .await
}

/// Waits for the deploy jobs of code item `id` other than `before`; fails
/// when one failed for good. Answers them (`_id`, `kind`, `status`,
/// `last_error`).
async fn deploys(
    client: &Client,
    conn: &Connection,
    id: &str,
    before: &HashSet<String>,
) -> anyhow::Result<Vec<Value>> {
    let ids: Vec<String> = deploy_jobs(client, id)
        .await?
        .iter()
        .map(|j| plain(&j["_id"]))
        .filter(|j| !before.contains(j))
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let ended = wait::jobs(client, &ids, "deploy", conn.timeout()).await?;
    let brief: Vec<Value> = ended
        .iter()
        .map(|j| {
            let mut brief = json!({"_id": j["_id"], "kind": j["kind"], "status": j["status"], "last_error": j["last_error"]});
            // An update that moved a checkout in use names its in-place rollout.
            if let Some(r) = j.pointer("/result/rollout") {
                brief["rollout"] = r.clone();
            }
            brief
        })
        .collect();
    if let Some(dead) = ended.iter().find(|j| j["status"] == "dead") {
        bail!(
            "the deploy of code item {id} failed: job {} ({}): {}; fix the cause and retry it with POST /jobs/{}/retry",
            field(dead, "/_id"),
            field(dead, "/kind"),
            field(dead, "/last_error"),
            field(dead, "/_id")
        );
    }
    Ok(brief)
}

#[allow(clippy::too_many_arguments)]
async fn release(
    client: &Client,
    conn: &Connection,
    out: Output,
    name: &str,
    commit: &str,
    version: Option<String>,
    fixes_error: bool,
    needs_update_hook: bool,
    wait: bool,
) -> anyhow::Result<()> {
    let current = lookup::current_code(client, name).await?;
    let current = match current.as_slice() {
        [] => None,
        [one] => Some(one.clone()),
        many => {
            let kinds: Vec<String> = many.iter().map(|c| field(c, "/meta/code_type")).collect();
            bail!(
                "{} current code items are named '{name}' ({}): release needs one; rename one of them",
                many.len(),
                kinds.join(", ")
            )
        }
    };
    let Some(current) = current else {
        bail!(
            "{}; release moves an existing item forward: add the first one with `atlas code add --current`",
            recommend(None)
        );
    };
    let choice = recommend(Some(CurrentVersion {
        has_error: fixes_error,
        fix_needs_update_hook: needs_update_hook,
    }));
    let current_id = plain(&current["_id"]);
    if !out.json {
        println!(
            "current {name}: {} {} ({current_id})",
            field(&current, "/meta/version"),
            short(&field(&current, "/commit_hash"), 12)
        );
        println!("chose {}: {choice}", choice.method());
    }
    let (id, before) = match choice {
        Recommendation::PostNew(_) => {
            let Some(version) = version else {
                bail!("{choice}; a new item needs its own version: pass --version");
            };
            let mut meta = current["meta"].clone();
            meta["version"] = version.into();
            meta["is_current"] = true.into();
            let body = json!({"git_url": current["git_url"], "commit_hash": commit, "meta": meta});
            let written = client.post("code", &body).await?;
            (plain(&written["_id"]), HashSet::new())
        }
        Recommendation::PatchExisting => {
            if version.is_some() {
                eprintln!(
                    "note: --version is not sent: a PATCH redeploys the item in place and keeps its version ({})",
                    field(&current, "/meta/version")
                );
            }
            let before: HashSet<String> = deploy_jobs(client, &current_id)
                .await?
                .iter()
                .map(|j| plain(&j["_id"]))
                .collect();
            client
                .write_item(Method::PATCH, "code", &format!("code/{current_id}"), &[], |_| {
                    Ok(Some(json!({ "commit_hash": commit })))
                })
                .await?;
            (current_id.clone(), before)
        }
    };
    if !out.json {
        println!(
            "{} code item {id}",
            if id == current_id { "patched" } else { "posted" }
        );
    }
    let jobs = if wait {
        deploys(client, conn, &id, &before).await?
    } else {
        Vec::new()
    };
    let in_place = jobs.iter().find_map(|j| j["rollout"].as_str().map(str::to_owned));
    let rollout = match &in_place {
        Some(r) => {
            if !out.json {
                println!("deployed; the instances using it follow in rollout {r}");
            }
            Some(wait::rollout(client, r, conn.timeout()).await?)
        }
        None => None,
    };
    if out.json {
        out.json_value(&json!({
            "action": "release",
            "method": choice.method(),
            "reason": choice.to_string(),
            "code": id,
            "previous": current_id,
            "jobs": jobs,
            "rollout": rollout.as_ref().map(record),
        }));
    } else if let Some(r) = &rollout {
        println!(
            "rollout {}: {}, {} instance(s) done",
            field(r, "/_id"),
            out.status(&field(r, "/state")),
            field(r, "/done")
        );
    } else if wait {
        println!("deployed: {} job(s) succeeded", jobs.len());
        if matches!(choice, Recommendation::PostNew(_)) {
            println!(
                "instances still run {current_id}: move them onto {id} with `atlas rollout start --from {current_id} --to {id}`"
            );
        }
    }
    if let Some(r) = &rollout {
        super::rollout::settle(r)?;
    }
    Ok(())
}
