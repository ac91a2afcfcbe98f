//! Failures of hosts: a host killed in the middle of a deploy fails the
//! operation naming it, the other host is done, and the retry converges
//! both; a host whose key does not match the known hosts file is refused.

use atlas_core::{ExecError, Executor};

use crate::harness::Fleet;
use crate::helpers::snapshot;

#[tokio::test]
async fn a_host_killed_mid_deploy_fails_the_step_and_the_retry_converges_both_hosts() {
    let Some(mut f) = Fleet::start(|_, _| {}) else {
        return;
    };
    let mut v1 = f.env.core_v1();
    v1.is_current = true;
    f.exec.deploy_code(&v1).await.unwrap();

    // web2 dies (its sshd and every session) between two deploys.
    f.hosts[1].kill();
    let v2 = f.env.core_v2();
    let err = f.exec.deploy_code(&v2).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("host web2"), "{text}");
    assert!(!text.contains("Some("), "no debug formatting: {text}");
    assert!(
        !matches!(err, ExecError::Refused { .. }),
        "a transport failure is retried: {err:?}"
    );
    assert!(
        f.p("web1", "code/cores/drupal/drupal-7.2/index.php").is_file(),
        "web1 got the release"
    );
    assert!(!f.p("web2", "code/cores/drupal/drupal-7.2").exists());
    let states = f.exec.host_states();
    let web2 = states.iter().find(|s| s.name == "web2").unwrap();
    assert!(
        !web2.reachable && web2.last_error.as_deref().is_some_and(|e| e.contains("web2")),
        "{web2:?}"
    );

    // web2 is back: the retried job converges it, and web1 is unchanged.
    f.hosts[1].restart();
    let web1_before = snapshot(&f.p("web1", "code"));
    f.exec.deploy_code(&v2).await.expect("the retry converges");
    assert_eq!(
        snapshot(&f.p("web1", "code")),
        web1_before,
        "web1 was already done"
    );
    let strip = |m: std::collections::BTreeMap<String, String>| -> Vec<(String, String)> {
        m.into_iter()
            .filter(|(k, _)| !k.contains(".git"))
            .map(|(k, v)| (k, v.replace("/web1/", "/H/").replace("/web2/", "/H/")))
            .collect()
    };
    assert_eq!(
        strip(snapshot(&f.p("web2", "code"))),
        strip(snapshot(&f.p("web1", "code"))),
        "both hosts hold the same code"
    );
    assert!(f
        .exec
        .host_states()
        .iter()
        .all(|s| s.reachable && s.last_error.is_none()));
}

#[tokio::test]
async fn a_host_key_that_does_not_match_known_hosts_is_refused() {
    let Some(f) = Fleet::start(|_, _| {}) else { return };
    // The known hosts file lists web2's key for web1's address.
    let wrong = f.hosts[0].known_hosts_line(&f.hosts[1].host_key)
        + &f.hosts[1].known_hosts_line(&f.hosts[1].host_key);
    std::fs::write(&f.client.known_hosts, wrong).unwrap();
    let err = f
        .exec
        .deploy_code(&f.env.core_v1())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("host web1"), "{err}");
    assert!(err.contains("host key"), "{err}");
    assert!(!f.p("web1", "code/cores").exists(), "nothing was done on web1");
}

#[tokio::test]
async fn an_unknown_host_key_is_refused() {
    let Some(f) = Fleet::start(|_, _| {}) else { return };
    std::fs::write(&f.client.known_hosts, "").unwrap();
    let err = f
        .exec
        .deploy_code(&f.env.core_v1())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("host web1") && err.contains("host web2"), "{err}");
    assert!(err.contains("host key"), "{err}");
}
