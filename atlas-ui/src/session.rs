//! Signed-in sessions: a random 256-bit id (hex) in an `HttpOnly`,
//! `SameSite=Strict` cookie scoped to the dashboard's path, and a
//! server-side table holding the user's name (never a password) and the
//! session's CSRF token, with an idle and an absolute expiry and a bound
//! on its size. Also the cookie helpers and the constant-time token check.
//!
//! # Contracts
//! - An expired session is gone: looking it up removes it.
//! - The table never holds more than `max_sessions` entries: a new
//!   session drops expired ones first, then the least recently used.
//! - The cookie has no `Secure` attribute: Atlas serves plain HTTP (put a
//!   TLS proxy in front and let it add `Secure`, see docs/ui.md).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap, HeaderValue};
use subtle::ConstantTimeEq;

use crate::config::UiConfig;

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "atlas_session";
/// The sign-in form's CSRF cookie (double submit: no session exists yet).
pub(crate) const LOGIN_COOKIE: &str = "atlas_login";

/// A signed-in session as a page sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Session {
    /// Its id (the cookie's value).
    pub(crate) id: String,
    /// Who signed in.
    pub(crate) user: String,
    /// The token every form of this session carries.
    pub(crate) csrf: String,
}

#[derive(Debug)]
struct Entry {
    user: String,
    csrf: String,
    created: Instant,
    seen: Instant,
}

/// The server-side table of sessions.
#[derive(Debug)]
pub(crate) struct Sessions {
    table: Mutex<HashMap<String, Entry>>,
    idle: Duration,
    absolute: Duration,
    max: usize,
}

impl Sessions {
    /// An empty table with the lifetimes and bound of `cfg`.
    pub(crate) fn new(cfg: &UiConfig) -> Self {
        Self {
            table: Mutex::new(HashMap::new()),
            idle: cfg.idle(),
            absolute: cfg.absolute(),
            max: cfg.max_sessions.max(1),
        }
    }

    /// A new session of `user`.
    pub(crate) fn create(&self, user: &str) -> Session {
        self.create_at(user, Instant::now())
    }

    fn create_at(&self, user: &str, now: Instant) -> Session {
        let (id, csrf) = (random_token(), random_token());
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        if table.len() >= self.max {
            table.retain(|_, e| !self.expired(e, now));
        }
        if table.len() >= self.max {
            if let Some(oldest) = table.iter().min_by_key(|(_, e)| e.seen).map(|(k, _)| k.clone()) {
                table.remove(&oldest);
            }
        }
        table.insert(
            id.clone(),
            Entry {
                user: user.to_owned(),
                csrf: csrf.clone(),
                created: now,
                seen: now,
            },
        );
        Session {
            id,
            user: user.to_owned(),
            csrf,
        }
    }

    /// The live session `id` names (its idle time starts over), or `None`.
    pub(crate) fn get(&self, id: &str) -> Option<Session> {
        self.get_at(id, Instant::now())
    }

    fn get_at(&self, id: &str, now: Instant) -> Option<Session> {
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = table.get_mut(id)?;
        if self.expired(entry, now) {
            table.remove(id);
            return None;
        }
        entry.seen = now;
        Some(Session {
            id: id.to_owned(),
            user: entry.user.clone(),
            csrf: entry.csrf.clone(),
        })
    }

    /// Signs `id` out.
    pub(crate) fn remove(&self, id: &str) {
        self.table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
    }

    fn expired(&self, e: &Entry, now: Instant) -> bool {
        now.duration_since(e.seen) >= self.idle || now.duration_since(e.created) >= self.absolute
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.table.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// 256 random bits as 64 hex characters.
pub(crate) fn random_token() -> String {
    let mut raw = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut raw);
    hex::encode(raw)
}

/// Whether a form's `sent` token equals `expected`, in constant time.
pub(crate) fn token_matches(sent: Option<&str>, expected: &str) -> bool {
    match sent {
        Some(s) if !expected.is_empty() => bool::from(s.as_bytes().ct_eq(expected.as_bytes())),
        _ => false,
    }
}

/// The value of cookie `name` in a request's `Cookie` headers.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A `Set-Cookie` value: `name=value`, `HttpOnly`, `SameSite=Strict`,
/// scoped to `path`, lasting `max_age` seconds (`Some(0)`: deleted;
/// `None`: until the browser closes).
pub(crate) fn set_cookie(name: &str, value: &str, path: &str, max_age: Option<u64>) -> HeaderValue {
    let age = max_age.map(|s| format!("; Max-Age={s}")).unwrap_or_default();
    let text = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Strict{age}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(max: usize) -> Sessions {
        Sessions::new(&UiConfig {
            idle_timeout: 60,
            absolute_timeout: 600,
            max_sessions: max,
            ..UiConfig::default()
        })
    }

    #[test]
    fn a_session_is_found_by_its_id_and_gone_after_sign_out() {
        let t = table(10);
        let s = t.create("alice");
        assert_eq!(s.id.len(), 64);
        assert_eq!(t.get(&s.id).unwrap().user, "alice");
        t.remove(&s.id);
        assert_eq!(t.get(&s.id), None);
    }

    #[test]
    fn a_session_expires_when_idle_and_at_its_absolute_limit_even_when_busy() {
        let t = table(10);
        let start = Instant::now();
        let s = t.create_at("alice", start);
        assert!(t.get_at(&s.id, start + Duration::from_secs(61)).is_none());
        let busy = t.create_at("bob", start);
        for minute in 1..10 {
            assert!(t
                .get_at(&busy.id, start + Duration::from_secs(minute * 59))
                .is_some());
        }
        assert!(t.get_at(&busy.id, start + Duration::from_secs(600)).is_none());
    }

    #[test]
    fn the_table_is_bounded_and_drops_the_least_recently_used_session() {
        let t = table(2);
        let start = Instant::now();
        let a = t.create_at("a", start);
        let b = t.create_at("b", start + Duration::from_secs(1));
        t.get_at(&a.id, start + Duration::from_secs(2));
        let c = t.create_at("c", start + Duration::from_secs(3));
        assert_eq!(t.len(), 2);
        assert!(t.get_at(&b.id, start + Duration::from_secs(4)).is_none());
        assert!(t.get_at(&a.id, start + Duration::from_secs(4)).is_some());
        assert!(t.get_at(&c.id, start + Duration::from_secs(4)).is_some());
    }

    #[test]
    fn tokens_match_only_when_equal_and_present() {
        assert!(token_matches(Some("abc"), "abc"));
        assert!(!token_matches(Some("abd"), "abc"));
        assert!(!token_matches(None, "abc"));
        assert!(!token_matches(Some(""), ""));
    }

    #[test]
    fn cookies_are_read_from_every_cookie_header_and_set_http_only_and_strict() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, "a=1; atlas_session=xyz".parse().unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("xyz".into()));
        assert_eq!(cookie(&h, "b"), None);
        let set = set_cookie(SESSION_COOKIE, "xyz", "/ui", None);
        assert_eq!(
            set.to_str().unwrap(),
            "atlas_session=xyz; Path=/ui; HttpOnly; SameSite=Strict"
        );
    }
}
