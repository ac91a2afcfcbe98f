//! `atlas serve` observability end to end: the metrics listener on its own
//! address (here `ATLAS_METRICS__LISTEN=127.0.0.1:0`), `/metrics` counting
//! the API's requests, and `/readyz` once the worker and scheduler run.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod raw_http;

/// `GET path` on `addr`: (status code, body).
fn get(addr: &str, path: &str) -> (u16, String) {
    let answer = raw_http::get(addr, path);
    (raw_http::status(&answer), raw_http::body(&answer).to_owned())
}

struct Stop(Child);

impl Drop for Stop {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_exposes_metrics_and_readiness_on_the_metrics_listener() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_atlas"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .env("ATLAS_METRICS__LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("atlas runs");
    let stdout = child.stdout.take().unwrap();
    let _stop = Stop(child);
    let (mut api, mut metrics) = (None, None);
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("Atlas is listening on http://") {
            api = Some(rest.split('/').next().unwrap().to_owned());
        }
        if let Some(rest) = line.strip_prefix("Metrics on http://") {
            metrics = Some(rest.split('/').next().unwrap().to_owned());
            break;
        }
    }
    let api = api.expect("the API address is printed");
    let metrics = metrics.expect("the metrics address is printed");
    assert_ne!(api, metrics);

    assert_eq!(get(&api, "/version").0, 200);
    assert_eq!(get(&api, "/healthz"), (200, "ok".to_owned()));
    assert_eq!(get(&api, "/metrics").0, 404, "metrics are not on the API");

    let (status, text) = get(&metrics, "/metrics");
    assert_eq!(status, 200);
    assert!(text.trim_end().ends_with("# EOF"), "{text}");
    assert!(
        text.contains(r#"atlas_http_requests_total{method="GET",route="/version",status="200"} 1"#),
        "{text}"
    );
    assert!(text.contains("atlas_store_up 1"), "{text}");

    // The worker loop and the scheduler start right away.
    let mut ready = get(&metrics, "/readyz");
    for _ in 0..100 {
        if ready.0 == 200 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        ready = get(&metrics, "/readyz");
    }
    assert_eq!(ready.0, 200, "{}", ready.1);
    assert!(ready.1.contains(r#""not_ready":[]"#), "{}", ready.1);
}
