//! The password-flood benchmark of issue 14: a real `atlas serve` (the
//! release binary of this package, or `FLOOD_BIN`) on loopback with a fresh
//! data directory, flooded for `FLOOD_SECS` (10) seconds by `FLOOD_CONNS`
//! (160) keep-alive connections posting with a wrong password, while one
//! client measures public `GET /code` latency. Reports the server's peak
//! RSS and thread count (from `/proc`) and the GET p50/p99.
//!
//! ```sh
//! cargo bench -p atlas-bin --bench auth_flood
//! FLOOD_BIN=/path/to/old/atlas cargo bench -p atlas-bin --bench auth_flood   # another build
//! FLOOD_UNTHROTTLED=1 cargo bench -p atlas-bin --bench auth_flood            # no failure throttle
//! ```
//!
//! `FLOOD_UNTHROTTLED=1` raises `http.auth.max_failures` so every wrong
//! password is checked: what the bound on concurrent checks alone gives.
//! Bounded in count and time; loopback only.
//!
//! Measured on a shared 2-core machine (160 connections, 10 s):
//!
//! | build | wrong passwords checked | peak RSS | peak threads | GET p50 / p99 |
//! | --- | --- | --- | --- | --- |
//! | before issue 14 | 302 (all 401) | 2761 MiB | 180 | 40.4 / 911.3 ms |
//! | after | 11 (then 326,096 × 429) | 91 MiB | 9 | 4.5 / 35.8 ms |
//! | after, `FLOOD_UNTHROTTLED=1` | 746 (all 401) | 91 MiB | 10 | 0.3 / 12.0 ms |

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Sends one request on `s` and reads the answer; its status.
fn exchange(s: &mut BufReader<TcpStream>, request: &[u8]) -> std::io::Result<u16> {
    s.get_mut().write_all(request)?;
    let mut line = String::new();
    s.read_line(&mut line)?;
    let status = line.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let mut length = 0usize;
    loop {
        line.clear();
        if s.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    s.read_exact(&mut body)?;
    Ok(status)
}

fn connect(addr: &str) -> BufReader<TcpStream> {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).ok();
    s.set_read_timeout(Some(Duration::from_secs(60))).ok();
    BufReader::new(s)
}

/// `(RSS in KiB, threads)` of `pid`.
fn usage(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("Threads:"))
}

fn start(bin: &str, dir: &std::path::Path) -> (Child, String) {
    let mut cmd = Command::new(bin);
    cmd.arg("--data-dir")
        .arg(dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "error")
        .env("ATLAS_METRICS__ENABLED", "false")
        .env("ATLAS_SCHEDULER__ENABLED", "false")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if std::env::var_os("FLOOD_UNTHROTTLED").is_some() {
        cmd.env("ATLAS_HTTP__AUTH__MAX_FAILURES", "1000000000");
    }
    let mut child = cmd.spawn().expect("atlas serve starts");
    let out = BufReader::new(child.stdout.take().expect("stdout"));
    for line in out.lines() {
        let line = line.expect("stdout");
        if let Some(rest) = line.strip_prefix("Atlas is listening on http://") {
            let addr = rest.split('/').next().unwrap_or_default().to_owned();
            return (child, addr);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("atlas serve did not report its address");
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("auth_flood: bench");
        return;
    }
    let bin = std::env::var("FLOOD_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_atlas").to_owned());
    let secs = env_or("FLOOD_SECS", 10).min(60);
    let conns = env_or("FLOOD_CONNS", 160).min(1000);
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut child, addr) = start(&bin, dir.path());
    let pid = child.id();
    std::thread::sleep(Duration::from_millis(300));
    let idle = usage(pid);

    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let (refused, throttled) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    // "admin:wrong" in base64.
    let flood_req = format!(
        "POST /code HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic YWRtaW46d3Jvbmc=\r\n\
         Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}"
    );
    let flooders: Vec<_> = (0..conns)
        .map(|_| {
            let (addr, req, stop) = (addr.clone(), flood_req.clone(), stop.clone());
            let (sent, refused, throttled) = (sent.clone(), refused.clone(), throttled.clone());
            std::thread::spawn(move || {
                let mut s = connect(&addr);
                while !stop.load(Ordering::Relaxed) {
                    match exchange(&mut s, req.as_bytes()) {
                        Ok(401) => refused.fetch_add(1, Ordering::Relaxed),
                        Ok(429) => throttled.fetch_add(1, Ordering::Relaxed),
                        Ok(_) => 0,
                        Err(_) => {
                            s = connect(&addr);
                            0
                        }
                    };
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();

    let get_req = format!("GET /code HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let mut get = connect(&addr);
    let mut latencies = Vec::new();
    let (mut peak_rss, mut peak_threads) = idle;
    let end = Instant::now() + Duration::from_secs(secs);
    let mut next_sample = Instant::now();
    while Instant::now() < end {
        let t = Instant::now();
        if exchange(&mut get, get_req.as_bytes()).is_err() {
            get = connect(&addr);
            continue;
        }
        latencies.push(t.elapsed());
        if Instant::now() >= next_sample {
            let (rss, threads) = usage(pid);
            peak_rss = peak_rss.max(rss);
            peak_threads = peak_threads.max(threads);
            next_sample = Instant::now() + Duration::from_millis(100);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    let (rss, threads) = usage(pid);
    peak_rss = peak_rss.max(rss);
    peak_threads = peak_threads.max(threads);
    for f in flooders {
        let _ = f.join();
    }
    let _ = child.kill();
    let _ = child.wait();

    latencies.sort();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!("auth_flood: {bin}");
    println!(
        "  flood: {conns} connections x {secs} s, {} wrong-password requests ({} x 401, {} x 429)",
        sent.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed),
        throttled.load(Ordering::Relaxed)
    );
    println!("  idle:  RSS {} MiB, {} threads", idle.0 / 1024, idle.1);
    println!("  peak:  RSS {} MiB, {} threads", peak_rss / 1024, peak_threads);
    println!(
        "  GET /code during the flood: {} requests, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
}
