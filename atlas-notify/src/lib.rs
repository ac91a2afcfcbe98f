//! `atlas-notify`: the channels through which Atlas tells people what it
//! did — a Slack incoming webhook and SMTP e-mail — and the configuration
//! that selects them.
//!
//! # Layout
//! - `config`: [`NotifyConfig`] (`[notify]`: [`SlackConfig`],
//!   [`EmailConfig`]) and [`NotifyConfig::build`].
//! - `slack`: [`SlackNotifier`] and its message layout ([`slack::payload`]).
//! - `email`: [`EmailNotifier`] (plain text through SMTP).
//! - `fanout`: [`FanoutNotifier`], every channel at once.
//!
//! # Contracts
//! - Every notifier implements [`atlas_core::Notifier`]; a delivery failure
//!   is a [`atlas_core::NotifyError`] naming the channel, which the
//!   engine logs without failing the job.
//! - Secrets (the webhook URL, the SMTP password) never appear in `Debug`
//!   output or in errors.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

mod config;
pub mod email;
mod fanout;
pub mod slack;

pub use config::{EmailConfig, MinLevel, NotifyConfig, NotifyConfigError, SlackConfig, SmtpTls};
pub use email::EmailNotifier;
pub use fanout::FanoutNotifier;
pub use slack::SlackNotifier;
