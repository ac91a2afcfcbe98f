//! Installs the process's tracing subscriber: `EnvFilter` from `RUST_LOG`
//! or the configured level, pretty or JSON output. The only place a
//! subscriber is installed.
//!
//! Logged values come from clients (record names, paths, commands), so the
//! pretty format escapes every control character in them (`\n`, `\u{1b}`…):
//! one event is always one line, and no value can forge another line or
//! colour the terminal. JSON output is escaped by JSON itself. Colours are
//! used only when standard error is a terminal (and `NO_COLOR` is unset).

use std::io::IsTerminal;

use serde::{Deserialize, Serialize};
use tracing::Subscriber;
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::{debug_fn, Writer};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Pretty,
    /// One JSON object per event.
    Json,
}

/// The `[log]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// Level filter (`error`, `warn`, `info`, `debug`, `trace`, or an
    /// `EnvFilter` directive such as `info,atlas_core=debug`); `RUST_LOG`
    /// overrides it.
    pub level: String,
    /// `pretty` or `json`.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Pretty,
        }
    }
}

/// Installs the global subscriber (once; later calls are ignored).
pub fn init(cfg: &LogConfig) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&cfg.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing::subscriber::set_global_default(subscriber(cfg.format, filter, std::io::stderr, ansi));
}

/// The subscriber `init` installs, writing to `writer`, with ANSI colours
/// only when `ansi`.
pub fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
    ansi: bool,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi);
    match format {
        LogFormat::Pretty => Box::new(
            builder
                .fmt_fields(
                    debug_fn(
                        |w: &mut Writer<'_>, field: &tracing::field::Field, value: &dyn std::fmt::Debug| {
                            if field.name() != "message" {
                                write!(w, "{}=", field.name())?;
                            }
                            write_escaped(w, &format!("{value:?}"))
                        },
                    )
                    .delimited(" "),
                )
                .finish(),
        ),
        LogFormat::Json => Box::new(builder.json().finish()),
    }
}

/// Writes `text` with every control character (and the Unicode line and
/// paragraph separators) escaped, so it stays on one line.
fn write_escaped(w: &mut impl std::fmt::Write, text: &str) -> std::fmt::Result {
    for c in text.chars() {
        match c {
            '\n' => w.write_str("\\n")?,
            '\r' => w.write_str("\\r")?,
            '\t' => w.write_str("\\t")?,
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                write!(w, "\\u{{{:x}}}", u32::from(c))?;
            }
            c => w.write_char(c)?,
        }
    }
    Ok(())
}

/// Logs the error a daemon (`serve`, `worker`) stopped with, once, at the
/// boundary: its chain of causes on one line, never a backtrace (the
/// `Debug` form of an `anyhow` error carries one when `RUST_BACKTRACE` is
/// set).
pub fn report(e: &anyhow::Error) {
    tracing::error!(error = %format_args!("{e:#}"), "atlas failed");
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A writer keeping what the subscriber prints.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn logged(format: LogFormat, ansi: bool, log: impl FnOnce()) -> String {
        let buf = Buffer::default();
        let writer = buf.clone();
        let sub = subscriber(format, EnvFilter::new("info"), move || writer.clone(), ansi);
        tracing::subscriber::with_default(sub, log);
        let out = buf.0.lock().unwrap().clone();
        String::from_utf8(out).unwrap()
    }

    const FORGED: &str = "x\n2030-01-01T00:00:00Z ERROR atlas: FORGED\r\u{1b}[31mred";

    #[test]
    fn a_value_with_newlines_and_control_bytes_stays_on_one_line() {
        for format in [LogFormat::Pretty, LogFormat::Json] {
            let out = logged(format, false, || {
                let span = tracing::info_span!("request", path = %FORGED);
                let _in = span.enter();
                tracing::info!(name = %FORGED, debug = ?FORGED, "record {FORGED} saved");
            });
            assert_eq!(out.lines().count(), 1, "{format:?}: {out}");
            assert!(!out.contains('\u{1b}'), "{format:?}: {out}");
            assert!(!out.contains('\r'), "{format:?}: {out}");
            assert!(out.contains("FORGED"), "{format:?}: {out}");
        }
    }

    #[test]
    fn no_colours_when_the_output_is_not_a_terminal() {
        let out = logged(LogFormat::Pretty, false, || tracing::warn!(n = 1, "plain"));
        assert!(!out.contains('\u{1b}'), "{out:?}");
        let coloured = logged(LogFormat::Pretty, true, || tracing::warn!(n = 1, "plain"));
        assert!(coloured.contains('\u{1b}'), "{coloured:?}");
    }
}
