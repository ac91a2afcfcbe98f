//! The notifiers against real local receivers: a hyper server capturing
//! webhook POSTs and a small SMTP sink capturing mail (`helpers`), then
//! the whole path from a failed provision to one Slack POST and one e-mail.

mod email;
mod helpers;
mod provision;
mod slack;
