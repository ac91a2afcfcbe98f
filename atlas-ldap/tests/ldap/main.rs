//! `atlas-ldap` against a real OpenLDAP `slapd` (see `atlas_ldap::testing`):
//! sign-ins through the real HTTP router on a socket, the directory's
//! modes, and the probe behind `atlas config check`. Skipped with a printed
//! reason without `slapd`, unless `ATLAS_TEST_REQUIRE` names `ldap`.

mod helpers;
mod modes;
mod probe;
mod signin;
mod tls;
