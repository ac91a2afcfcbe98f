//! Fleet tests: a `FleetExecutor` driving two real `sshd` hosts on
//! loopback (generated keys, strict host key checking), each host with its
//! own roots, the agent reached over SSH, real git repositories and the
//! recording `drush`/`mysql` stubs of the executor tests.

mod backup;
mod drift;
mod harness;
mod health;
#[allow(dead_code)]
#[path = "../executor/helpers.rs"]
mod helpers;
mod lifecycle;
mod resilience;
mod sshd;
