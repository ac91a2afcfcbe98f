//! The operator CLI's side of the HTTP API: the subcommands `atlas
//! instance|code|command|jobs|backup` talk to a running server through
//! these modules only, never to its store.
//!
//! - [`args`]: the command-line shape of those subcommands;
//! - [`profile`]: which server and which credentials (flags, `ATLAS_*`
//!   variables, the profile file);
//! - [`http`]: requests, the server's errors, etags and the 412 retry;
//! - [`lookup`]: instances by sid, command items by name, current code;
//! - [`output`]: tables for people, JSON for scripts, colours on terminals;
//! - [`wait`]: waiting for jobs and statuses with a progress bar.

pub mod args;
pub mod http;
pub mod lookup;
pub mod output;
pub mod profile;
pub mod wait;

pub use http::Client;
