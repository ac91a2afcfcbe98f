//! Integration tests of `ShellExecutor` in a temp dir with real git
//! repositories and stub `drush`/`mysql` programs that record their calls,
//! plus the real MariaDB (`mariadb`) and PHP (`php`) checks.

mod backup;
mod code;
mod commands;
mod drift;
mod helpers;
mod instance;
mod mariadb;
mod php;
mod routes;
mod safety;
mod settings;
