//! Backup benchmark (not a timed test) against the real MariaDB of the
//! tests (`ATLAS_TEST_MARIADB`, default `127.0.0.1:3306`, as `root` with
//! `ATLAS_TEST_MARIADB_ROOT_PASSWORD`): fills an instance database with
//! about 100 MB of rows (`BENCH_BACKUP_ROWS`, default 100 000 rows of about
//! 1 KB of distinct hexadecimal text, which compresses about 2:1) and its files directory with 10 MB, then prints the time of
//! `backup_instance` and of `restore_instance` with the sizes involved.
//!
//! Run: `cargo bench -p atlas-shell --bench backup`.

#[allow(dead_code)]
#[path = "../tests/executor/helpers.rs"]
mod helpers;

use std::time::{Duration, Instant};

use atlas_core::model::Sid;
use atlas_core::testing::service;
use atlas_core::Executor;
use atlas_shell::ConfigSecret;

use crate::helpers::{id, root_sql, TestEnv};

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Pseudo-random bytes (xorshift), so the files compress like real ones
/// rather than to nothing.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Half the bytes from a small alphabet: partly compressible.
            if x & 1 == 0 {
                b'a' + (x >> 8) as u8 % 16
            } else {
                (x >> 16) as u8
            }
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let Some(addr) = service::service_addr("mariadb", "ATLAS_TEST_MARIADB", "127.0.0.1:3306") else {
        eprintln!("backup benchmark skipped: no MariaDB");
        return;
    };
    let rows: u64 = std::env::var("BENCH_BACKUP_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let (host, port) = addr.rsplit_once(':').unwrap();
    let env = TestEnv::with(|c| {
        c.programs.mysql = "mysql".into();
        c.database.host = host.to_owned();
        c.database.port = port.parse().unwrap();
        c.database.admin_user = "root".into();
        c.database.admin_password =
            ConfigSecret::new(std::env::var("ATLAS_TEST_MARIADB_ROOT_PASSWORD").unwrap_or_default());
        c.timeouts.program_secs = 3600;
    });
    let sid = Sid::generate().to_string();
    let spec = env.instance(&sid);

    let t = Instant::now();
    root_sql(
        host,
        port,
        &format!(
            "CREATE DATABASE `{sid}`;\n\
             CREATE TABLE `{sid}`.node (nid INT PRIMARY KEY, title CHAR(128), body TEXT, changed INT);\n\
             INSERT INTO `{sid}`.node SELECT seq, SHA2(seq, 512), \
             CONCAT_WS(' ', SHA2(CONCAT(seq, 'a'), 512), SHA2(CONCAT(seq, 'b'), 512), \
                    SHA2(CONCAT(seq, 'c'), 512), SHA2(CONCAT(seq, 'd'), 512), SHA2(CONCAT(seq, 'e'), 512), \
                    SHA2(CONCAT(seq, 'f'), 512), SHA2(CONCAT(seq, 'g'), 512)), seq * 7 FROM `{sid}`.seq_1_to_{rows};\n\
             CREATE TABLE `{sid}`.cache (cid VARCHAR(64) PRIMARY KEY, data BLOB);\n\
             INSERT INTO `{sid}`.cache SELECT CONCAT('c', seq), UNHEX(SHA2(seq, 512)) FROM `{sid}`.seq_1_to_10000;"
        ),
    );
    let data: u64 = root_sql(
        host,
        port,
        &format!(
            "SELECT (SELECT SUM(4 + LENGTH(title) + LENGTH(body) + 4) FROM `{sid}`.node) + \
             (SELECT SUM(LENGTH(cid) + LENGTH(data)) FROM `{sid}`.cache);"
        ),
    )
    .trim()
    .parse()
    .unwrap_or(0);
    let files = env.srv.join("files/sitefiles").join(&sid).join("files");
    std::fs::create_dir_all(&files).unwrap();
    for i in 0..100u64 {
        std::fs::write(files.join(format!("upload-{i:03}.bin")), noise(i + 1, 100_000)).unwrap();
    }
    println!(
        "setup: {rows} rows, {} of row data, 100 files of 100 KB ({})",
        mb(data),
        secs(t.elapsed())
    );

    let t = Instant::now();
    let artifact = env.exec.backup_instance(&spec, &id(1)).await.unwrap();
    let took = t.elapsed();
    let parts: Vec<String> = artifact
        .parts
        .iter()
        .map(|p| format!("{} {}", p.file, mb(p.size)))
        .collect();
    println!("backup_instance: {} ({})", secs(took), parts.join(", "));

    root_sql(host, port, &format!("DROP TABLE `{sid}`.cache;"));
    let t = Instant::now();
    env.exec.restore_instance(&spec, &artifact).await.unwrap();
    println!(
        "restore_instance: {} (checksums, load into the scratch database, swap)",
        secs(t.elapsed())
    );
    let restored = root_sql(host, port, &format!("SELECT COUNT(*) FROM `{sid}`.node;"));
    println!("restored rows: {}", restored.trim());

    env.exec.remove_backup(&artifact).await.unwrap();
    root_sql(host, port, &format!("DROP DATABASE `{sid}`;"));
}
