//! [`AuthGate`]: what every credential check passes through before the
//! [`Authenticator`], so a flood of wrong passwords costs neither memory nor
//! latency:
//!
//! 1. credentials that verified within `remember_verified` are accepted from
//!    a keyed SHA-256 digest (never the password itself), without hashing
//!    (or, for a directory, without a bind), as the name the authenticator
//!    answered;
//! 2. a client address or user name with `max_failures` failed logins
//!    within `failure_window` is answered 429 without hashing;
//! 3. at most `concurrent_checks` checks run at once (each argon2id check
//!    takes about 19 MiB); the others wait for a permit, and the remembered
//!    credentials and the throttle are looked at again once they have one
//!    (so a burst of requests with the same credentials costs at most
//!    `concurrent_checks` checks, those that started together).
//!
//! Failures are counted per address and per user name in bounded tables: at
//! most [`MAX_TRACKED`] entries each, expired ones dropped first; the
//! remembered credentials are bounded the same way.
//!
//! An authenticator that cannot decide ([`AuthUnavailable`]: the directory
//! is down) gets the client a 503 ([`ApiError::AuthUnavailable`]) naming
//! it: nobody is let in, nothing is remembered, and it is not counted as a
//! failed login (a directory outage must not lock users out afterwards).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use crate::auth::{AuthUnavailable, Authenticator};
use crate::config::AuthLimits;
use crate::ApiError;

/// Most addresses (and most user names) whose failures are counted.
pub(crate) const MAX_TRACKED: usize = 10_000;

/// Longest user name kept as a failure key (longer names share the prefix).
const MAX_NAME_KEY: usize = 256;

/// Checks credentials through the [`Authenticator`] under the limits of
/// [`AuthLimits`].
#[derive(Debug)]
pub(crate) struct AuthGate {
    auth: Arc<dyn Authenticator>,
    limits: AuthLimits,
    checks: Semaphore,
    cache_key: [u8; 32],
    verified: Mutex<HashMap<String, Verified>>,
    by_addr: Mutex<Failures<IpAddr>>,
    by_user: Mutex<Failures<String>>,
}

impl AuthGate {
    /// A gate in front of `auth`.
    pub(crate) fn new(auth: Arc<dyn Authenticator>, limits: AuthLimits) -> Self {
        let mut cache_key = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut cache_key);
        Self {
            auth,
            checks: Semaphore::new(limits.concurrent_checks.max(1)),
            limits,
            cache_key,
            verified: Mutex::new(HashMap::new()),
            by_addr: Mutex::new(Failures::default()),
            by_user: Mutex::new(Failures::default()),
        }
    }

    /// The authenticated user's name.
    ///
    /// # Errors
    /// [`ApiError::TooManyRequests`] while `client` or `user` is throttled;
    /// [`ApiError::Unauthorized`] for credentials that do not verify;
    /// [`ApiError::AuthUnavailable`] when the authenticator cannot decide.
    pub(crate) async fn check(
        &self,
        client: Option<IpAddr>,
        user: &str,
        password: &str,
    ) -> Result<String, ApiError> {
        let digest = self.digest(user, password);
        if let Some(name) = self.remembered(user, &digest) {
            return Ok(name);
        }
        self.throttled(client, user)?;
        let _permit = self.checks.acquire().await.map_err(|_| ApiError::Unauthorized)?;
        // Others may have verified the same credentials or failed while this
        // request waited for its turn.
        if let Some(name) = self.remembered(user, &digest) {
            return Ok(name);
        }
        self.throttled(client, user)?;
        match self.auth.authenticate(user, password).await {
            Err(unavailable) => Err(self.unavailable(unavailable)),
            Ok(Some(name)) => {
                self.remember(&name, user, digest);
                if let Some(ip) = client {
                    lock(&self.by_addr).clear(&ip);
                }
                lock(&self.by_user).clear(&user_key(user));
                Ok(name)
            }
            Ok(None) => {
                let now = Instant::now();
                let window = self.limits.failure_window;
                if let Some(ip) = client {
                    lock(&self.by_addr).record(ip, now, window);
                }
                lock(&self.by_user).record(user_key(user), now, window);
                Err(ApiError::Unauthorized)
            }
        }
    }

    /// The 503 of an authenticator that could not decide, logged (its
    /// reason stays in the log).
    fn unavailable(&self, e: AuthUnavailable) -> ApiError {
        tracing::warn!(backend = %e.backend, reason = %e.reason, "credentials could not be checked");
        ApiError::AuthUnavailable(e)
    }

    /// 429 when `client` or `user` has too many recent failures.
    fn throttled(&self, client: Option<IpAddr>, user: &str) -> Result<(), ApiError> {
        let now = Instant::now();
        let (max, window) = (self.limits.max_failures, self.limits.failure_window);
        let by_addr = client.and_then(|ip| lock(&self.by_addr).blocked(&ip, now, max, window));
        let by_user = lock(&self.by_user).blocked(&user_key(user), now, max, window);
        match by_addr.max(by_user) {
            Some(wait) => Err(ApiError::TooManyRequests(wait.as_secs().max(1))),
            None => Ok(()),
        }
    }

    fn digest(&self, user: &str, password: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.cache_key);
        h.update((user.len() as u64).to_be_bytes());
        h.update(user.as_bytes());
        h.update(password.as_bytes());
        h.finalize().into()
    }

    /// The name `user`'s credentials verified as, when they did within
    /// `remember_verified`.
    fn remembered(&self, user: &str, digest: &[u8; 32]) -> Option<String> {
        let ttl = self.limits.remember_verified;
        lock(&self.verified)
            .get(user)
            .filter(|v| v.at.elapsed() < ttl && bool::from(v.digest.ct_eq(digest)))
            .map(|v| v.name.clone())
    }

    /// Remembers verified credentials of `user` (as typed) and the `name`
    /// they verified as. Only verified credentials get in, and at most
    /// [`MAX_TRACKED`] of them (expired ones dropped first; when still
    /// full, nothing more is remembered).
    fn remember(&self, name: &str, user: &str, digest: [u8; 32]) {
        let ttl = self.limits.remember_verified;
        if ttl.is_zero() {
            return;
        }
        let mut verified = lock(&self.verified);
        if !verified.contains_key(user) && verified.len() >= MAX_TRACKED {
            verified.retain(|_, v| v.at.elapsed() < ttl);
            if verified.len() >= MAX_TRACKED {
                return;
            }
        }
        verified.insert(
            user.to_owned(),
            Verified {
                digest,
                at: Instant::now(),
                name: name.to_owned(),
            },
        );
    }
}

/// Credentials that verified: their keyed digest, when, and as whom.
#[derive(Debug)]
struct Verified {
    digest: [u8; 32],
    at: Instant,
    name: String,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn user_key(user: &str) -> String {
    let mut end = user.len().min(MAX_NAME_KEY);
    while !user.is_char_boundary(end) {
        end -= 1;
    }
    user[..end].to_owned()
}

/// Failed logins per key: how many, since when.
#[derive(Debug)]
struct Failures<K> {
    counts: HashMap<K, (u32, Instant)>,
}

impl<K> Default for Failures<K> {
    fn default() -> Self {
        Self {
            counts: HashMap::new(),
        }
    }
}

impl<K: Eq + Hash> Failures<K> {
    /// Counts a failure of `key` at `now`; a window that ended starts over.
    fn record(&mut self, key: K, now: Instant, window: Duration) {
        if !self.counts.contains_key(&key) && self.counts.len() >= MAX_TRACKED {
            self.counts
                .retain(|_, (_, since)| now.duration_since(*since) < window);
            if self.counts.len() >= MAX_TRACKED {
                return;
            }
        }
        let entry = self.counts.entry(key).or_insert((0, now));
        if now.duration_since(entry.1) >= window {
            *entry = (0, now);
        }
        entry.0 = entry.0.saturating_add(1);
    }

    /// How long `key` stays blocked, when it has `max` failures in the
    /// current window.
    fn blocked(&self, key: &K, now: Instant, max: u32, window: Duration) -> Option<Duration> {
        let (count, since) = self.counts.get(key)?;
        let elapsed = now.duration_since(*since);
        (*count >= max && elapsed < window).then(|| window - elapsed)
    }

    fn clear(&mut self, key: &K) {
        self.counts.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;

    use super::*;

    /// Accepts `alice` / `pw` and `ALICE` / `pw` (as `alice`); cannot
    /// decide when `down`; counts calls.
    #[derive(Debug, Default)]
    struct Counting {
        calls: AtomicUsize,
        down: std::sync::atomic::AtomicBool,
    }

    #[async_trait]
    impl Authenticator for Counting {
        async fn authenticate(&self, user: &str, password: &str) -> Result<Option<String>, AuthUnavailable> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.down.load(Ordering::SeqCst) {
                return Err(AuthUnavailable::new(
                    "the directory ldap://127.0.0.1:1",
                    "connection refused",
                ));
            }
            Ok((user.eq_ignore_ascii_case("alice") && password == "pw").then(|| "alice".to_owned()))
        }
    }

    fn gate(max_failures: u32) -> (Arc<Counting>, AuthGate) {
        let auth = Arc::new(Counting::default());
        let limits = AuthLimits {
            max_failures,
            ..AuthLimits::default()
        };
        (auth.clone(), AuthGate::new(auth, limits))
    }

    const HOME: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));

    #[tokio::test]
    async fn verified_credentials_are_remembered_and_a_different_password_is_checked() {
        let (auth, g) = gate(10);
        assert_eq!(g.check(HOME, "alice", "pw").await.unwrap(), "alice");
        assert_eq!(g.check(HOME, "alice", "pw").await.unwrap(), "alice");
        assert_eq!(auth.calls.load(Ordering::SeqCst), 1);
        assert!(matches!(
            g.check(HOME, "alice", "pw!").await,
            Err(ApiError::Unauthorized)
        ));
        assert_eq!(auth.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn an_address_with_too_many_failures_gets_429_without_a_check() {
        let (auth, g) = gate(3);
        for _ in 0..3 {
            assert!(matches!(
                g.check(HOME, "mallory", "x").await,
                Err(ApiError::Unauthorized)
            ));
        }
        let other_user = g.check(HOME, "eve", "x").await;
        assert!(
            matches!(other_user, Err(ApiError::TooManyRequests(s)) if s > 0),
            "{other_user:?}"
        );
        assert_eq!(auth.calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_user_with_too_many_failures_gets_429_from_any_address() {
        let (_, g) = gate(2);
        let a = Some(IpAddr::from([10, 0, 0, 1]));
        let b = Some(IpAddr::from([10, 0, 0, 2]));
        let c = Some(IpAddr::from([10, 0, 0, 3]));
        assert!(g.check(a, "alice", "x").await.is_err());
        assert!(g.check(b, "alice", "y").await.is_err());
        assert!(matches!(
            g.check(c, "alice", "pw").await,
            Err(ApiError::TooManyRequests(_))
        ));
    }

    #[tokio::test]
    async fn remembered_credentials_pass_while_their_user_is_throttled() {
        let (_, g) = gate(2);
        g.check(HOME, "alice", "pw").await.unwrap();
        for _ in 0..2 {
            assert!(g.check(None, "alice", "guess").await.is_err());
        }
        assert_eq!(g.check(HOME, "alice", "pw").await.unwrap(), "alice");
    }

    #[tokio::test]
    async fn an_undecided_check_is_a_503_naming_the_backend_and_not_a_failed_login() {
        let (auth, g) = gate(2);
        auth.down.store(true, Ordering::SeqCst);
        for _ in 0..3 {
            let e = g.check(HOME, "alice", "pw").await.unwrap_err();
            assert!(
                matches!(&e, ApiError::AuthUnavailable(u) if u.backend.contains("ldap://127.0.0.1:1")),
                "{e:?}"
            );
        }
        auth.down.store(false, Ordering::SeqCst);
        assert_eq!(g.check(HOME, "alice", "pw").await.unwrap(), "alice");
    }

    #[tokio::test]
    async fn an_undecided_check_is_not_remembered() {
        let (auth, g) = gate(10);
        auth.down.store(true, Ordering::SeqCst);
        assert!(g.check(HOME, "alice", "pw").await.is_err());
        assert!(g.check(HOME, "alice", "pw").await.is_err());
        assert_eq!(auth.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn remembered_credentials_answer_the_name_the_authenticator_gave() {
        let (auth, g) = gate(10);
        assert_eq!(g.check(HOME, "ALICE", "pw").await.unwrap(), "alice");
        assert_eq!(g.check(HOME, "ALICE", "pw").await.unwrap(), "alice");
        assert_eq!(auth.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_burst_of_the_same_credentials_is_checked_once() {
        let auth = Arc::new(Counting::default());
        let limits = AuthLimits {
            concurrent_checks: 1,
            ..AuthLimits::default()
        };
        let g = Arc::new(AuthGate::new(auth.clone(), limits));
        let burst: Vec<_> = (0..5)
            .map(|_| {
                let g = g.clone();
                tokio::spawn(async move { g.check(HOME, "alice", "pw").await })
            })
            .collect();
        for request in burst {
            assert_eq!(request.await.unwrap().unwrap(), "alice");
        }
        assert_eq!(auth.calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn failure_tables_are_bounded() {
        let mut f = Failures::default();
        let now = Instant::now();
        for i in 0..(MAX_TRACKED + 50) {
            f.record(i, now, Duration::from_secs(60));
        }
        assert_eq!(f.counts.len(), MAX_TRACKED);
    }
}
