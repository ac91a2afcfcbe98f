//! Concurrent creates are committed in groups: one transaction, one
//! statement per table. On a pool of one connection the first create
//! takes the commit slot and every create started meanwhile waits for it,
//! so the rest commit as one group. Each create must land as it would
//! alone (record, first history version, job), a clash in the group must
//! fail only the create that has it, and a group whose connection fails
//! once it was sent is answered "unknown", never committed a second time.

use atlas_core::model::{Id, Resource, Timestamp};
use atlas_core::query::FindQuery;
use atlas_core::testing::fixtures;
use atlas_core::{Batch, JobSpec, Store, StoreError, Written};
use atlas_postgres::testing::TestSchema;
use atlas_postgres::PgStore;
use serde_json::json;

const CREATES: usize = 30;

/// A create as the service makes it: the instance, its statistics record
/// and its provision job.
fn create(now: Timestamp, n: usize) -> (Id, Batch) {
    let id = Id::generate(now);
    let mut batch = Batch::new(now);
    batch
        .insert(
            Resource::Instance,
            id,
            fixtures::instance()
                .sid(&format!("p1group{n:05}"))
                .path(&format!("group-{n}"))
                .build(),
        )
        .insert(
            Resource::Statistics,
            Id::generate(now),
            json!({"instance": id.to_string()})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        )
        .enqueue(JobSpec::new(
            "provision",
            json!({ "instance": id.to_string() }),
            now,
        ));
    (id, batch)
}

async fn one_connection_store(schema: &TestSchema) -> PgStore {
    PgStore::open(schema.config(1))
        .await
        .expect("open with one connection")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_each_land_with_their_first_version_and_job() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = one_connection_store(&schema).await;
    let now = Timestamp::from_unix(1_795_564_800);
    let creates: Vec<(Id, Batch)> = (0..CREATES).map(|n| create(now, n)).collect();

    let results = futures::future::join_all(creates.iter().map(|(_, b)| store.commit(b.clone()))).await;

    let other = schema.store().await;
    for ((id, _), result) in creates.iter().zip(results) {
        let committed = result.expect("every create lands");
        assert_eq!(committed.results.len(), 3, "one result per write");
        let Written::Doc(written) = &committed.results[0] else {
            panic!("the instance's result is its record: {committed:?}");
        };
        assert_eq!(written.id, *id);
        let stored = other
            .get(Resource::Instance, id)
            .await
            .expect("get")
            .expect("stored");
        assert_eq!(&stored, written, "stored as answered");
        let history = other.history(Resource::Instance, id).await.expect("history");
        assert_eq!(history.len(), 1, "the first version is in the history");
        assert_eq!(history[0].etag, written.etag);
        let Written::Job(job) = &committed.results[2] else {
            panic!("the enqueue's result is its job: {committed:?}");
        };
        assert!(other.job(job).await.expect("job").is_some(), "job {job} queued");
    }
    let stats = other
        .find(Resource::Statistics, &FindQuery::default())
        .await
        .expect("statistics");
    assert_eq!(stats.total, CREATES as u64);
    let jobs = other.find_jobs(&FindQuery::default()).await.expect("jobs");
    assert_eq!(jobs.total, CREATES as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clash_in_a_group_fails_only_the_create_that_has_it() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = one_connection_store(&schema).await;
    let now = Timestamp::from_unix(1_795_564_800);
    let (_, taken) = create(now, 7);
    store.commit(taken).await.expect("the sid's first holder");

    // Create 7 again (a new id, the same sid and path) among others.
    let creates: Vec<(Id, Batch)> = (0..CREATES).map(|n| create(now, n + 100)).collect();
    let (twin, clash) = create(now, 7);
    let mut batches: Vec<Batch> = creates.iter().map(|(_, b)| b.clone()).collect();
    batches.insert(CREATES / 2, clash);

    let results = futures::future::join_all(batches.into_iter().map(|b| store.commit(b))).await;

    let other = schema.store().await;
    let mut landed = 0;
    for (k, result) in results.into_iter().enumerate() {
        if k == CREATES / 2 {
            let err = result.expect_err("the sid is held");
            assert!(
                matches!(&err, StoreError::Unique { write: 0, res: Resource::Instance, field, .. } if field == "sid"),
                "{err:?}"
            );
            continue;
        }
        result.expect("a create without a clash lands");
        landed += 1;
    }
    assert_eq!(landed, CREATES);
    assert_eq!(other.get(Resource::Instance, &twin).await.expect("get"), None);
    for (id, _) in &creates {
        assert!(other.get(Resource::Instance, id).await.expect("get").is_some());
    }
    let jobs = other.find_jobs(&FindQuery::default()).await.expect("jobs");
    assert_eq!(
        jobs.total,
        CREATES as u64 + 1,
        "the holder's job and one per landed create"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_that_goes_away_leaves_the_group_answered() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = one_connection_store(&schema).await;
    let now = Timestamp::from_unix(1_795_564_800);
    let creates: Vec<(Id, Batch)> = (0..CREATES).map(|n| create(now, n)).collect();

    let mut tasks = Vec::new();
    for (_, batch) in &creates {
        let store = store.clone();
        let batch = batch.clone();
        tasks.push(tokio::spawn(async move { store.commit(batch).await }));
    }
    // Callers that may be committing a group for the others go away.
    for task in tasks.iter().step_by(3) {
        task.abort();
    }
    for (k, task) in tasks.into_iter().enumerate() {
        match task.await {
            Ok(result) => {
                result.expect("an answered create landed");
            }
            Err(e) => assert!(e.is_cancelled() && k % 3 == 0, "create {k}: {e}"),
        }
    }
    // The survivors all landed; an aborted caller's create may have too.
    let other = schema.store().await;
    for (k, (id, _)) in creates.iter().enumerate().filter(|(k, _)| k % 3 != 0) {
        assert!(
            other.get(Resource::Instance, id).await.expect("get").is_some(),
            "create {k} landed"
        );
    }
}

/// A TCP relay to the test server whose connections can be cut: the
/// client then sees its connection close without an answer, as when the
/// network between a node and the database fails.
struct Relay {
    addr: std::net::SocketAddr,
    cut: tokio::sync::watch::Sender<u64>,
}

impl Relay {
    async fn start(server: std::net::SocketAddr) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (cut, _) = tokio::sync::watch::channel(0u64);
        let cuts = cut.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut cut = cuts.subscribe();
                tokio::spawn(async move {
                    let Ok(mut upstream) = tokio::net::TcpStream::connect(server).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Relay { addr, cut }
    }

    /// Closes every connection relayed so far.
    fn cut(&self) {
        self.cut.send_modify(|n| *n += 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_whose_connection_fails_once_sent_is_not_committed_again() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let url: tokio_postgres::Config = schema.url().parse().expect("test URL");
    let server = match (url.get_hosts().first(), url.get_ports().first()) {
        (Some(tokio_postgres::config::Host::Tcp(host)), Some(port)) => {
            tokio::net::lookup_host((host.as_str(), *port))
                .await
                .expect("resolve the test server")
                .next()
                .expect("an address")
        }
        _ => {
            eprintln!("skipped: the test server is not reached over TCP");
            return;
        }
    };
    let relay = Relay::start(server).await;
    let relayed = format!(
        "postgres://{}@{}/{}",
        url.get_user().unwrap_or("postgres"),
        relay.addr,
        url.get_dbname().unwrap_or("postgres")
    );
    let store = PgStore::open(
        atlas_postgres::PgConfig::new(relayed)
            .schema(schema.name())
            .pool_size(1),
    )
    .await
    .expect("open through the relay");
    let locker = schema.client().await;
    // Every create waits on the jobs table, its transaction sent whole
    // (`BEGIN`, the inserts, `COMMIT`); then its connection is cut.
    locker
        .batch_execute(&format!(
            "BEGIN; LOCK TABLE {}.jobs IN ACCESS EXCLUSIVE MODE",
            schema.name()
        ))
        .await
        .expect("lock the jobs table");
    let watcher = schema.client().await;
    let jobs = format!("{}.jobs", schema.name());
    let now = Timestamp::from_unix(1_795_564_800);
    let creates: Vec<(Id, Batch)> = (0..CREATES).map(|n| create(now, n)).collect();
    let commits = futures::future::join_all(creates.iter().map(|(_, b)| store.commit(b.clone())));
    let cutter = async {
        loop {
            let waiting: i64 = watcher
                .query_one(
                    "SELECT count(*) FROM pg_locks WHERE relation = $1::text::regclass AND NOT granted",
                    &[&jobs],
                )
                .await
                .expect("waiting writers")
                .get(0);
            if waiting > 0 {
                relay.cut();
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    let results = tokio::select! {
        results = commits => results,
        () = cutter => unreachable!(),
    };

    let errors: Vec<String> = results
        .into_iter()
        .map(|r| r.expect_err("every create's connection was cut").to_string())
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("whether the write landed is unknown")),
        "the group's creates are told their outcome is unknown: {errors:?}"
    );
    assert!(
        errors.iter().all(|e| !e.contains("is not unique")),
        "nothing was committed again: {errors:?}"
    );
    // Whether a cut transaction landed depends on what reached the server
    // before the cut; each landed whole or not at all, and none twice.
    locker.batch_execute("ROLLBACK").await.expect("unlock");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let other = schema.store().await;
    let all = FindQuery::default();
    let instances = other
        .find(Resource::Instance, &all)
        .await
        .expect("instances")
        .total;
    let statistics = other
        .find(Resource::Statistics, &all)
        .await
        .expect("statistics")
        .total;
    let jobs = other.find_jobs(&all).await.expect("jobs").total;
    assert!(instances <= CREATES as u64, "{instances} instances");
    assert_eq!(
        (statistics, jobs),
        (instances, instances),
        "whole creates only, none twice"
    );
}
