//! Crash safety: a child process commits batches in a loop from several
//! concurrent writers (so group commit is in play) and prints the id of
//! every batch `commit` acknowledged; the test SIGKILLs it at random
//! moments, again and again, on the same database file. After every kill
//! the database must open, pass `PRAGMA integrity_check`, hold every
//! acknowledged batch, and hold no batch partially (each batch is three
//! records plus one job, all or nothing).
//!
//! This file has its own `main` (`harness = false`): run without
//! `ATLAS_SQLITE_CRASH_CHILD` it is the test; with it, it is the child.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use atlas_core::model::{Id, Resource, Timestamp};
use atlas_core::query::{Filter, FindQuery};
use atlas_core::{Batch, JobSpec, Store};
use atlas_sqlite::{SqliteConfig, SqliteStore};
use rand::Rng;
use serde_json::json;

const NAME: &str = "acknowledged_batches_survive_sigkill_whole";
const CHILD_ENV: &str = "ATLAS_SQLITE_CRASH_CHILD";
const BASE_ENV: &str = "ATLAS_SQLITE_CRASH_BASE";
const KILLS: u64 = 24;
const WRITERS: u64 = 8;
const PARTS: u64 = 3;
/// Makes every batch write a few pages, so the WAL grows quickly.
const PADDING: &str = concat!(
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
);

fn main() {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        child(Path::new(&path));
        return;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        println!("{NAME}: test");
        return;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    if !filters.is_empty() && !filters.iter().any(|f| NAME.contains(f.as_str())) {
        println!("\nrunning 0 tests\n\ntest result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 1 filtered out\n");
        return;
    }
    println!("\nrunning 1 test");
    let started = Instant::now();
    parent();
    println!("test {NAME} ... ok");
    println!(
        "\ntest result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in {:.2}s\n",
        started.elapsed().as_secs_f64()
    );
}

/// Commits batches forever from `WRITERS` tasks, printing each
/// acknowledged batch id on its own line.
fn child(path: &Path) {
    let base: u64 = std::env::var(BASE_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("child runtime");
    rt.block_on(async {
        // A tiny checkpoint threshold: kills also land during checkpoints
        // and WAL restarts.
        let config = SqliteConfig {
            checkpoint_kib: 64,
            ..SqliteConfig::at(path)
        };
        let store = Arc::new(SqliteStore::open(config).await.expect("child opens the store"));
        let out = Arc::new(Mutex::new(std::io::stdout()));
        let mut tasks = Vec::new();
        for w in 0..WRITERS {
            let (store, out) = (Arc::clone(&store), Arc::clone(&out));
            tasks.push(tokio::spawn(async move {
                for seq in 0.. {
                    let batch_id = base + w * 1_000_000 + seq;
                    let now = Timestamp::from_unix(1_795_564_800 + i64::try_from(seq).unwrap_or(0));
                    let mut b = Batch::new(now);
                    for part in 0..PARTS {
                        b.insert(
                            Resource::Site,
                            Id::generate(now),
                            json!({"batch": batch_id, "part": part, "padding": PADDING})
                                .as_object()
                                .cloned()
                                .unwrap_or_default(),
                        );
                    }
                    b.enqueue(JobSpec::new("crash_test", json!({"batch": batch_id}), now));
                    if store.commit(b).await.is_ok() {
                        let mut o = out.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        let _ = writeln!(o, "{batch_id}");
                        let _ = o.flush();
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
}

fn parent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("crash.db");
    let exe = std::env::current_exe().expect("test binary path");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut rng = rand::thread_rng();
    let mut acked: BTreeSet<u64> = BTreeSet::new();
    let mut kills_mid_stream = 0;
    for round in 0..KILLS {
        let mut child = Command::new(&exe)
            .env(CHILD_ENV, &path)
            .env(BASE_ENV, (round * 1_000_000_000).to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the child");
        let stdout = child.stdout.take().expect("child stdout");
        let (tx, rx) = mpsc::channel::<u64>();
        let reader = std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            let mut line = Vec::new();
            loop {
                line.clear();
                match r.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    // A line cut by the kill was never fully acknowledged.
                    Ok(_) if line.last() != Some(&b'\n') => break,
                    Ok(_) => {
                        if let Some(id) = std::str::from_utf8(&line)
                            .ok()
                            .and_then(|s| s.trim().parse().ok())
                        {
                            let _ = tx.send(id);
                        }
                    }
                }
            }
        });
        // Most rounds kill while batches stream in; some kill early, while
        // the child opens, migrates or recovers the database.
        let mut round_acks = Vec::new();
        if round % 6 == 5 {
            std::thread::sleep(Duration::from_millis(rng.gen_range(0..40)));
        } else {
            match rx.recv_timeout(Duration::from_secs(20)) {
                Ok(id) => round_acks.push(id),
                Err(e) => panic!("round {round}: the child acknowledged nothing: {e}"),
            }
            std::thread::sleep(Duration::from_millis(rng.gen_range(1..150)));
            kills_mid_stream += 1;
        }
        child.kill().expect("SIGKILL the child");
        let _ = child.wait();
        reader.join().expect("reader thread");
        round_acks.extend(rx.try_iter());
        acked.extend(round_acks);
        rt.block_on(verify(&path, &acked, round));
    }
    assert!(
        kills_mid_stream >= 20,
        "only {kills_mid_stream} kills landed mid-stream"
    );
    assert!(!acked.is_empty());
    println!(
        "{KILLS} SIGKILLs ({kills_mid_stream} mid-stream), {} acknowledged batches, all present and whole",
        acked.len()
    );
}

async fn verify(path: &Path, acked: &BTreeSet<u64>, round: u64) {
    let store = SqliteStore::open_path(path)
        .await
        .unwrap_or_else(|e| panic!("round {round}: the database does not reopen: {e}"));
    let problems = store.integrity_check().await.expect("integrity_check runs");
    assert!(
        problems.is_empty(),
        "round {round}: integrity_check: {problems:?}"
    );

    let all = FindQuery::all_matching(Filter::All);
    let docs = store.find(Resource::Site, &all).await.expect("find sites");
    let mut parts: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
    for d in &docs.items {
        let batch = d.body["batch"].as_u64().expect("batch id");
        let part = d.body["part"].as_u64().expect("part");
        assert!(
            parts.entry(batch).or_default().insert(part),
            "round {round}: duplicate part"
        );
    }
    for (batch, ps) in &parts {
        assert_eq!(
            ps.len() as u64,
            PARTS,
            "round {round}: batch {batch} is partially applied"
        );
    }
    let jobs = store.find_jobs(&all).await.expect("find jobs");
    let mut job_batches = BTreeSet::new();
    for j in &jobs.items {
        let batch = j.payload["batch"].as_u64().expect("job batch id");
        assert!(
            job_batches.insert(batch),
            "round {round}: batch {batch} has two jobs"
        );
    }
    let doc_batches: BTreeSet<u64> = parts.keys().copied().collect();
    assert_eq!(
        doc_batches, job_batches,
        "round {round}: records and jobs disagree"
    );
    let lost: Vec<&u64> = acked.difference(&doc_batches).collect();
    assert!(
        lost.is_empty(),
        "round {round}: acknowledged batches lost: {lost:?}"
    );
}
