//! The one rule for tests that need an outside service (PostgreSQL, …):
//! its address comes from an environment variable with a local default; a
//! test that cannot reach it is skipped with a printed reason, unless
//! `ATLAS_TEST_REQUIRE` (a comma-separated list of service names, as
//! `.ci/run` sets it) names the service, in which case it fails.

/// The environment variable listing the services tests must reach.
pub const REQUIRE_VAR: &str = "ATLAS_TEST_REQUIRE";

/// Whether `ATLAS_TEST_REQUIRE` names `service`.
pub fn service_required(service: &str) -> bool {
    std::env::var(REQUIRE_VAR)
        .map(|list| required_in(&list, service))
        .unwrap_or(false)
}

fn required_in(list: &str, service: &str) -> bool {
    list.split(',').any(|s| s.trim().eq_ignore_ascii_case(service))
}

/// Decides whether a test that needs `service` runs: `true` when it is
/// reachable; otherwise prints why the test is skipped and answers `false`,
/// or panics with the reason when `ATLAS_TEST_REQUIRE` names the service.
///
/// # Panics
/// When the service is unreachable and required.
pub fn require_service(service: &str, reachable: Result<(), String>) -> bool {
    match reachable {
        Ok(()) => true,
        Err(reason) if service_required(service) => {
            panic!("{service} is required by {REQUIRE_VAR} but unreachable: {reason}")
        }
        Err(reason) => {
            eprintln!(
                "skipped: {service} is unreachable ({reason}); set {REQUIRE_VAR}={service} to make this a failure"
            );
            false
        }
    }
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
}
