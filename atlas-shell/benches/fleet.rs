//! Fleet benchmark (not a timed test): two real `sshd` hosts on loopback,
//! as in the fleet tests. Prints
//! - the time to deploy one code item to both hosts (a fresh clone, then a
//!   converged re-run),
//! - the time of a command fan-out over 100 instances × 2 hosts (every
//!   instance's command on both hosts; one after another, and 8 instances
//!   at once as a worker with `concurrency = 8` runs them).
//!
//! Run: `cargo bench -p atlas-shell --bench fleet`.

#[allow(dead_code)]
#[path = "../tests/fleet/harness.rs"]
mod harness;
#[allow(dead_code)]
#[path = "../tests/executor/helpers.rs"]
mod helpers;
#[allow(dead_code)]
#[path = "../tests/fleet/sshd.rs"]
mod sshd;

use std::time::{Duration, Instant};

use atlas_core::Executor;
use futures::stream::{self, StreamExt};

use crate::harness::Fleet;
use crate::helpers::command;

const INSTANCES: usize = 100;

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let Some(f) = Fleet::start(|_, _| {}) else {
        eprintln!("fleet benchmark skipped: sshd not available");
        return;
    };
    // The first call connects the master connections; leave that out.
    f.exec.clear_apc().await.unwrap();

    let core = f.env.core_v1();
    let t = Instant::now();
    f.exec.deploy_code(&core).await.unwrap();
    println!(
        "deploy one code item to 2 hosts (fresh clone): {}",
        ms(t.elapsed())
    );
    let t = Instant::now();
    f.exec.deploy_code(&core).await.unwrap();
    println!(
        "deploy one code item to 2 hosts (already there): {}",
        ms(t.elapsed())
    );

    f.deploy_all().await;
    let specs: Vec<_> = (0..INSTANCES)
        .map(|i| f.env.instance(&format!("p1bench{i:05}")))
        .collect();
    let t = Instant::now();
    for s in &specs {
        f.exec.provision(s).await.unwrap();
    }
    println!(
        "provision {INSTANCES} instances on 2 hosts, one after another: {} ({} each)",
        ms(t.elapsed()),
        ms(t.elapsed() / INSTANCES as u32)
    );

    let commands: Vec<_> = specs
        .iter()
        .map(|s| {
            let mut c = command("echo \"$ATLAS_SID\"", Some(s.clone()), Duration::from_secs(60));
            c.single_server = false;
            c
        })
        .collect();
    let t = Instant::now();
    for c in &commands {
        let out = f.exec.run_command(c).await.unwrap();
        assert_eq!(out.hosts.len(), 2);
    }
    println!(
        "command fan-out {INSTANCES} instances x 2 hosts, one instance at a time: {} ({} per instance)",
        ms(t.elapsed()),
        ms(t.elapsed() / INSTANCES as u32)
    );
    let t = Instant::now();
    let outs: Vec<_> = stream::iter(commands.iter().map(|c| f.exec.run_command(c)))
        .buffer_unordered(8)
        .collect()
        .await;
    assert!(outs
        .iter()
        .all(|o| o.as_ref().is_ok_and(|o| o.exit_status == Some(0))));
    println!(
        "command fan-out {INSTANCES} instances x 2 hosts, 8 instances at once: {}",
        ms(t.elapsed())
    );
}
