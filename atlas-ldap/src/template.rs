//! Filling the configured templates: a user name (or DN) put into a
//! search filter escaped per RFC 4515 ([`ldap3::ldap_escape`]), into a DN
//! escaped per RFC 4514 ([`ldap3::dn_escape`]), in one pass (a value that
//! looks like a placeholder stays text); and comparing DNs.

use crate::config::{DN_PLACEHOLDER, USER_PLACEHOLDER};

/// `template` with every placeholder replaced by its value, in one pass.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    'scan: while !rest.is_empty() {
        for (placeholder, value) in values {
            if let Some(after) = rest.strip_prefix(placeholder) {
                out.push_str(value);
                rest = after;
                continue 'scan;
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

/// The user search filter for `user`.
pub(crate) fn user_filter(template: &str, user: &str) -> String {
    fill(template, &[(USER_PLACEHOLDER, &ldap3::ldap_escape(user))])
}

/// The group search filter for the user at `dn` named `user`.
pub(crate) fn group_filter(template: &str, dn: &str, user: &str) -> String {
    fill(
        template,
        &[
            (DN_PLACEHOLDER, &ldap3::ldap_escape(dn)),
            (USER_PLACEHOLDER, &ldap3::ldap_escape(user)),
        ],
    )
}

/// The DN of `user` from a DN template.
pub(crate) fn user_dn(template: &str, user: &str) -> String {
    fill(template, &[(USER_PLACEHOLDER, &ldap3::dn_escape(user))])
}

/// Whether two DNs name the same entry, compared the way directories do
/// for the usual attribute types: case-blind, spaces around `,` and `=`
/// ignored.
pub(crate) fn same_dn(a: &str, b: &str) -> bool {
    normalize_dn(a) == normalize_dn(b)
}

fn normalize_dn(dn: &str) -> String {
    dn.split(',')
        .map(|rdn| {
            rdn.split('=')
                .map(|part| part.trim().to_lowercase())
                .collect::<Vec<_>>()
                .join("=")
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_injection_stays_a_literal_value() {
        assert_eq!(
            user_filter("(&(objectClass=person)(uid={user}))", "*)(uid=*"),
            "(&(objectClass=person)(uid=\\2a\\29\\28uid=\\2a))"
        );
        assert_eq!(user_filter("(uid={user})", "a\\b\0"), "(uid=a\\5cb\\00)");
    }

    #[test]
    fn a_dn_template_escapes_the_name() {
        assert_eq!(
            user_dn("uid={user},ou=people,dc=x", "a,ou=admins+cn=x"),
            "uid=a\\2cou\\3dadmins\\2bcn\\3dx,ou=people,dc=x"
        );
        assert_eq!(user_dn("uid={user},dc=x", " lead"), "uid=\\20lead,dc=x");
    }

    #[test]
    fn a_value_that_looks_like_a_placeholder_is_not_filled_again() {
        assert_eq!(
            group_filter("(|(member={dn})(memberUid={user}))", "uid={user},dc=x", "{dn}"),
            "(|(member=uid={user},dc=x)(memberUid={dn}))"
        );
    }

    #[test]
    fn dns_compare_case_blind_and_ignoring_spaces() {
        assert!(same_dn(
            "cn=Atlas-Admins, ou=Groups,dc=example,dc=test",
            "CN=atlas-admins,ou=groups,DC=example,DC=test"
        ));
        assert!(!same_dn("cn=admins,dc=x", "cn=admins2,dc=x"));
    }
}
