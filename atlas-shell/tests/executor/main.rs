//! Integration tests of `ShellExecutor` in a temp dir with real git
//! repositories and stub `drush`/`mysql` programs that record their calls.

mod code;
mod commands;
mod helpers;
mod instance;
mod routes;
mod safety;
mod settings;
