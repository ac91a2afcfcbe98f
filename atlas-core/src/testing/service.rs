//! The rule for tests that need a real outside service (MariaDB,
//! PostgreSQL, sshd, a program such as `php`): find it, and when it is not
//! there, skip with a printed reason — unless the environment variable
//! `ATLAS_TEST_REQUIRE` (a comma-separated list such as
//! `mariadb,postgres,ssh`) names it, in which case the test fails. CI sets
//! that variable so it never skips silently.
//!
//! ```ignore
//! let Some(addr) = atlas_core::testing::service_addr("mariadb", "ATLAS_TEST_MARIADB", "127.0.0.1:3306") else {
//!     return; // skipped, reason printed
//! };
//! ```

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The variable naming services whose absence fails a test instead of
/// skipping it.
pub const REQUIRE_VAR: &str = "ATLAS_TEST_REQUIRE";

/// Whether `ATLAS_TEST_REQUIRE` names `service` (case-insensitive).
pub fn is_required(service: &str) -> bool {
    std::env::var(REQUIRE_VAR).is_ok_and(|list| required_in(&list, service))
}

fn required_in(list: &str, service: &str) -> bool {
    list.split(',').any(|s| s.trim().eq_ignore_ascii_case(service))
}

/// Applies the rule to a service found missing for `reason`: panics when it
/// is required, otherwise prints why the test is skipped. Returns `false` so
/// callers can write `if !available { return skip(..) }`.
///
/// # Panics
/// When `ATLAS_TEST_REQUIRE` names `service`.
pub fn skip(service: &str, reason: &str) -> bool {
    assert!(
        !is_required(service),
        "{service} is required ({REQUIRE_VAR}) but not available: {reason}"
    );
    eprintln!("SKIPPED: {service} not available: {reason} (set {REQUIRE_VAR}={service} to fail instead)");
    false
}

/// Decides whether a test that needs `service` runs: `true` when it is
/// `reachable`; otherwise [`skip`] with the reason (which panics when the
/// service is required).
///
/// # Panics
/// When the service is unreachable and `ATLAS_TEST_REQUIRE` names it.
pub fn require_service(service: &str, reachable: Result<(), String>) -> bool {
    match reachable {
        Ok(()) => true,
        Err(reason) => skip(service, &reason),
    }
}

/// The address of a TCP service: `env_var` when set, else `default`. `None`
/// (after printing why) when nothing answers there within two seconds.
///
/// # Panics
/// When the service does not answer and `ATLAS_TEST_REQUIRE` names it.
pub fn service_addr(service: &str, env_var: &str, default: &str) -> Option<String> {
    let addr = std::env::var(env_var)
        .ok()
        .filter(|a| !a.trim().is_empty())
        .unwrap_or_else(|| default.to_owned());
    let reachable = addr
        .to_socket_addrs()
        .map_err(|e| e.to_string())
        .and_then(|mut addrs| {
            addrs
                .find_map(|a| TcpStream::connect_timeout(&a, Duration::from_secs(2)).ok())
                .ok_or_else(|| "nothing answers".to_owned())
        });
    match reachable {
        Ok(_) => Some(addr),
        Err(e) => {
            skip(service, &format!("{addr} (from {env_var} or its default): {e}"));
            None
        }
    }
}

/// The path of `program` when it is found in `PATH` (or is an existing
/// absolute path); `None` (after printing why) otherwise.
///
/// # Panics
/// When the program is missing and `ATLAS_TEST_REQUIRE` names `service`.
pub fn program(service: &str, program: &str) -> Option<std::path::PathBuf> {
    let found = if program.contains('/') {
        Some(std::path::PathBuf::from(program)).filter(|p| p.is_file())
    } else {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(program))
                .find(|p| p.is_file())
        })
    };
    if found.is_none() {
        skip(service, &format!("program '{program}' not found in PATH"));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_require_list_is_comma_separated_and_case_blind() {
        assert!(required_in("sqlite, Postgres", "postgres"));
        assert!(!required_in("postgresql", "postgres"));
        assert!(!required_in("", "postgres"));
    }

    #[test]
    fn a_reachable_service_runs_and_an_unrequired_unreachable_one_skips() {
        assert!(require_service("some-service-nobody-requires", Ok(())));
        assert!(!require_service(
            "some-service-nobody-requires",
            Err("connection refused".into())
        ));
    }

    #[test]
    fn a_missing_program_is_skipped_when_not_required() {
        // The name is never in ATLAS_TEST_REQUIRE.
        assert!(program("atlas-no-such-service", "atlas-no-such-program").is_none());
        assert!(program("sh", "sh").is_some());
    }

    #[test]
    fn an_unreachable_service_is_skipped_when_not_required() {
        // Port 1 on loopback: nothing listens there.
        assert!(service_addr("atlas-no-such-service", "ATLAS_TEST_NO_SUCH_VAR", "127.0.0.1:1").is_none());
    }

    #[test]
    fn a_reachable_service_answers_its_address() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        assert_eq!(
            service_addr("atlas-test-listener", "ATLAS_TEST_NO_SUCH_VAR", &addr).as_deref(),
            Some(addr.as_str())
        );
    }
}
