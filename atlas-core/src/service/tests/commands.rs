//! Command hooks: the `query` must be a `where` clause; PATCHing a command
//! item or executing it enqueues its run.

use serde_json::{json, Value};

use super::{alice, assert_not_found, issues_at, t0, Env};
use crate::model::{Id, Resource};
use crate::service::{Actor, ServiceError};

fn clear_caches() -> Value {
    json!({
        "name": "Clear caches on launched express sites",
        "command": "drush cc all",
        "query": r#"{"status": "launched", "type": "express"}"#,
    })
}

#[tokio::test]
async fn creating_a_command_stores_it_with_defaults_and_does_not_run_it() {
    let env = Env::new();
    let cmd = env.create(Resource::Commands, clear_caches()).await;
    assert_eq!(cmd.body["single_server"], true);
    assert_eq!(cmd.body["created_by"], "alice");
    assert!(env.jobs().await.is_empty());
}

#[tokio::test]
async fn a_query_that_is_not_a_where_clause_is_invalid() {
    let env = Env::new();
    for bad in [
        "{status: launched",
        r#"{"$where": "1"}"#,
        r#"{"status": {"$bogus": 1}}"#,
    ] {
        let mut body = clear_caches();
        body["query"] = json!(bad);
        let msgs = issues_at(env.create_err(Resource::Commands, body).await, "query");
        assert_eq!(msgs.len(), 1, "{bad}");
        assert!(msgs[0].starts_with("not a valid `where` clause"), "{msgs:?}");
    }
    assert!(env.all(Resource::Commands).await.is_empty());

    let cmd = env.create(Resource::Commands, clear_caches()).await;
    let e = env
        .patch(Resource::Commands, &cmd, json!({"query": "{nope"}))
        .await
        .unwrap_err();
    assert_eq!(issues_at(e, "query").len(), 1);
    assert_eq!(env.stored(Resource::Commands, &cmd.id).await, cmd);
    assert!(env.jobs().await.is_empty(), "a refused PATCH runs nothing");
}

#[tokio::test]
async fn patching_a_command_runs_it_for_the_acting_user() {
    let env = Env::new();
    let cmd = env.create(Resource::Commands, clear_caches()).await;
    let after = env
        .patch(Resource::Commands, &cmd, json!({"command": "drush cc all -y"}))
        .await
        .unwrap();
    assert_eq!(after.body["command"], "drush cc all -y");
    let jobs = env.jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].kind, "command_run");
    assert_eq!(
        jobs[0].payload,
        json!({"command": cmd.id.to_string(), "requested_by": "alice"})
    );
    assert_eq!(
        jobs[0].max_attempts, 1,
        "a shell command is never re-run by itself"
    );
}

#[tokio::test]
async fn execute_command_enqueues_a_run_and_returns_its_job_id() {
    let env = Env::new();
    let cmd = env.create(Resource::Commands, clear_caches()).await;
    let bob = Actor("bob".into());
    let job_id = env.svc.execute_command(&cmd.id.to_string(), &bob).await.unwrap();
    let job = env.svc.job(&job_id.to_string()).await.unwrap();
    assert_eq!(job.kind, "command_run");
    assert_eq!(
        job.payload,
        json!({"command": cmd.id.to_string(), "requested_by": "bob"})
    );
    assert_eq!(job.run_at, t0());
    assert_eq!(env.jobs().await.len(), 1);
    assert_eq!(
        env.stored(Resource::Commands, &cmd.id).await,
        cmd,
        "the record is not touched"
    );
}

#[tokio::test]
async fn executing_an_unknown_or_deleted_command_is_not_found() {
    let env = Env::new();
    let unknown = Id::generate(t0()).to_string();
    for id in [unknown.as_str(), "nope"] {
        assert_not_found(env.svc.execute_command(id, &alice()).await.unwrap_err());
    }
    let cmd = env.create(Resource::Commands, clear_caches()).await;
    env.delete(Resource::Commands, &cmd).await.unwrap();
    assert_not_found(
        env.svc
            .execute_command(&cmd.id.to_string(), &alice())
            .await
            .unwrap_err(),
    );
    assert!(env.jobs().await.is_empty());
}

#[tokio::test]
async fn an_unknown_job_is_not_found() {
    let env = Env::new();
    let unknown = Id::generate(t0()).to_string();
    let e = env.svc.job(&unknown).await.unwrap_err();
    assert!(
        matches!(&e, ServiceError::JobNotFound(id) if *id == unknown),
        "{e:?}"
    );
    let e = env.svc.job("nope").await.unwrap_err();
    assert!(
        matches!(&e, ServiceError::JobNotFound(id) if id == "nope"),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_percent_encoded_query_is_accepted_as_the_guide_writes_it() {
    let env = Env::new();
    let cmd = env
        .create(
            Resource::Commands,
            json!({"name": "Clear caches", "command": "drush cc all",
                   "query": "%7B%22status%22%3A%20%22launched%22%7D"}),
        )
        .await;
    assert_eq!(
        cmd.str_field("query"),
        Some("%7B%22status%22%3A%20%22launched%22%7D")
    );
}
