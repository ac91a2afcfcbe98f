//! What the CLI prints: aligned tables and short sentences for people on
//! standard output, JSON (`--json`) for scripts, colours only when
//! standard output is a terminal and `NO_COLOR` is unset.
//!
//! JSON output is the API's own records (the fields docs/http.md lists)
//! without their `_links`, so scripts use the field names the API
//! documents; actions print one object whose keys docs/cli.md lists.

use std::io::IsTerminal;

use serde_json::Value;

use crate::client::http::plain;

/// How to print: JSON or for people, coloured or not.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// `--json`.
    pub json: bool,
    /// Colours (a terminal, no `NO_COLOR`, not JSON).
    pub color: bool,
}

impl Output {
    /// For `--json` or not; colours decided from standard output.
    pub fn new(json: bool) -> Self {
        let color = !json && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Self { json, color }
    }

    /// Prints `v` as pretty JSON.
    pub fn json_value(&self, v: &Value) {
        println!(
            "{}",
            serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
        );
    }

    /// A status word, coloured by what it means: settled and good (green),
    /// under way (yellow), failed (red).
    pub fn status(&self, s: &str) -> String {
        if !self.color {
            return s.to_owned();
        }
        let code = match s {
            "available" | "installed" | "launched" | "succeeded" | "complete" | "down" | "active" => "32",
            "dead" | "failed" => "31",
            "pending" | "installing" | "launching" | "take_down" | "restore" | "queued" | "running" => "33",
            _ => return s.to_owned(),
        };
        format!("\x1b[{code}m{s}\x1b[0m")
    }

    /// Bold text (headers).
    fn bold(&self, s: &str) -> String {
        if self.color {
            format!("\x1b[1m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }

    /// Prints `rows` under `headers`, each column as wide as its widest
    /// cell. `status_col`: the column whose words get status colours.
    pub fn table(&self, headers: &[&str], rows: &[Vec<String>], status_col: Option<usize>) {
        let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
        for row in rows {
            for (i, cell) in row.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(cell.chars().count());
                }
            }
        }
        let line = |cells: Vec<String>, paint: &dyn Fn(usize, &str) -> String| {
            let last = cells.len().saturating_sub(1);
            let text: Vec<String> = cells
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let pad = if i == last {
                        0
                    } else {
                        widths[i].saturating_sub(c.chars().count())
                    };
                    format!("{}{}", paint(i, c), " ".repeat(pad))
                })
                .collect();
            println!("{}", text.join("  ").trim_end());
        };
        line(headers.iter().map(|h| (*h).to_owned()).collect(), &|_, c| {
            self.bold(c)
        });
        for row in rows {
            line(row.clone(), &|i, c| {
                if Some(i) == status_col {
                    self.status(c)
                } else {
                    c.to_owned()
                }
            });
        }
        if rows.is_empty() {
            println!("(none)");
        }
    }
}

/// `v` without `_links` (the JSON output of records).
pub fn record(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("_links");
    }
    v
}

/// The text at a JSON pointer of `v` (empty when absent).
pub fn field(v: &Value, pointer: &str) -> String {
    v.pointer(pointer).map(plain).unwrap_or_default()
}

/// The first `n` characters of `s`.
pub fn short(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}
