//! Spawning programs: an argument vector only (never a shell string built
//! from data), stdin closed or fed from memory, a time limit after which the
//! whole process group is killed, stdout/stderr tails captured, and one
//! tracing event per call with its duration. [`run_streamed`] streams a
//! large standard input or output (a database dump) instead.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use atlas_core::ExecError;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use crate::config::Programs;

/// Variables of Atlas's own environment that every program gets: the
/// search path, the account, the locale, the time zone, the temporary
/// directory and the SSH agent (git over SSH). Everything else, above all
/// `ATLAS_*` settings such as `ATLAS_NOTIFY__EMAIL__PASSWORD`, is withheld
/// unless `shell.programs.pass_env` names it.
pub(crate) const PASSED_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TMPDIR",
    "SSH_AUTH_SOCK",
];

/// Whether Atlas's variable `name` reaches the programs it runs: the
/// [`PASSED_ENV`] names, the locale categories (`LC_*`), and the extra
/// names the operator lists in `pass_env` (never an `ATLAS_*` name; the
/// configuration refuses those).
pub(crate) fn is_passed(name: &str, pass_env: &[String]) -> bool {
    !name.starts_with("ATLAS_")
        && (PASSED_ENV.contains(&name) || name.starts_with("LC_") || pass_env.iter().any(|p| p == name))
}

/// How much of stdout and stderr is kept (the tail).
pub(crate) const TAIL_BYTES: usize = 64 * 1024;

/// One program run. `Debug` shows the stdin length, never its bytes.
#[derive(Clone)]
pub(crate) struct Invocation {
    /// Program path or bare name.
    pub(crate) program: String,
    /// Arguments (never secrets).
    pub(crate) args: Vec<OsString>,
    /// Working directory.
    pub(crate) cwd: Option<PathBuf>,
    /// Extra environment.
    pub(crate) env: Vec<(String, OsString)>,
    /// Names of Atlas's own variables passed on besides [`PASSED_ENV`].
    pub(crate) pass_env: Vec<String>,
    /// Bytes fed on stdin (`None`: stdin is closed). Never logged.
    pub(crate) stdin: Option<Vec<u8>>,
    /// Time limit.
    pub(crate) timeout: Duration,
}

impl std::fmt::Debug for Invocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invocation")
            .field("program", &self.program)
            .field("args", &shown_args(&self.args))
            .field("cwd", &self.cwd)
            .field("env", &self.env.iter().map(|(k, _)| k).collect::<Vec<_>>())
            .field("stdin_bytes", &self.stdin.as_ref().map(Vec::len))
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Invocation {
    /// A run of `program` (a path or bare name from `programs`) with the
    /// environment rule of `programs.pass_env`.
    pub(crate) fn new(programs: &Programs, program: &str, timeout: Duration) -> Self {
        Self {
            program: program.to_owned(),
            args: Vec::new(),
            cwd: None,
            env: Vec::new(),
            pass_env: programs.pass_env.clone(),
            stdin: None,
            timeout,
        }
    }

    pub(crate) fn arg(mut self, a: impl Into<OsString>) -> Self {
        self.args.push(a.into());
        self
    }

    pub(crate) fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub(crate) fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    pub(crate) fn env(mut self, k: &str, v: impl Into<OsString>) -> Self {
        self.env.push((k.to_owned(), v.into()));
        self
    }

    pub(crate) fn stdin(mut self, bytes: Vec<u8>) -> Self {
        self.stdin = Some(bytes);
        self
    }
}

/// What a finished run produced.
#[derive(Debug, Clone)]
pub(crate) struct Finished {
    /// Exit status (`None`: killed by a signal).
    pub(crate) status: Option<i32>,
    /// Tail of stdout.
    pub(crate) stdout: String,
    /// Tail of stderr.
    pub(crate) stderr: String,
    /// Wall time.
    pub(crate) duration: Duration,
}

impl Finished {
    /// What `inv` left after running for `duration`, logged as finished.
    fn logged(
        inv: &Invocation,
        status: Option<i32>,
        stdout: String,
        stderr: String,
        duration: Duration,
    ) -> Self {
        tracing::info!(
            program = %inv.program,
            args = ?shown_args(&inv.args),
            status = ?status,
            duration_ms = duration.as_millis() as u64,
            "program finished"
        );
        Self {
            status,
            stdout,
            stderr,
            duration,
        }
    }

    pub(crate) fn success(&self) -> bool {
        self.status == Some(0)
    }
}

/// An I/O failure while `doing` something with `program` (`waiting for
/// drush: …`), keeping the error's kind.
fn io_failure(e: &std::io::Error, doing: &str, program: &str) -> ExecError {
    ExecError::Io(std::io::Error::new(e.kind(), format!("{doing} {program}: {e}")))
}

/// Runs `inv` to completion or its time limit.
///
/// # Errors
/// [`ExecError::Timeout`] (the process group was killed), [`ExecError::Io`]
/// when the program cannot be spawned. A non-zero exit is not an error here.
pub(crate) async fn run(inv: &Invocation) -> Result<Finished, ExecError> {
    let started = Instant::now();
    let mut child = spawn(inv, inv.stdin.is_some())?;
    let pid = child.id();
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let input = inv.stdin.clone();
    let work = async {
        let feed = async move {
            if let (Some(mut w), Some(bytes)) = (stdin, input) {
                // The program may exit without reading everything.
                let _ = w.write_all(&bytes).await;
                let _ = w.shutdown().await;
            }
        };
        let (_, out, err, status) = tokio::join!(feed, read_tail(stdout), read_tail(stderr), child.wait());
        (out, err, status)
    };
    let outcome = tokio::time::timeout(inv.timeout, work).await;
    let duration = started.elapsed();
    match outcome {
        Ok((out, err, status)) => {
            let status = status.map_err(|e| io_failure(&e, "waiting for", &inv.program))?;
            Ok(Finished::logged(
                inv,
                status.code(),
                tail_string(out),
                tail_string(err),
                duration,
            ))
        }
        Err(_) => Err(timed_out(inv, pid, &mut child, duration).await),
    }
}

/// Runs `inv` and turns a non-zero exit into [`ExecError::Failed`].
///
/// # Errors
/// As [`run`], plus [`ExecError::Failed`] with the stderr tail.
pub(crate) async fn run_checked(inv: &Invocation) -> Result<Finished, ExecError> {
    let f = run(inv).await?;
    if f.success() {
        Ok(f)
    } else {
        let stderr = if f.stderr.trim().is_empty() {
            f.stdout.clone()
        } else {
            f.stderr.clone()
        };
        Err(ExecError::Failed {
            program: inv.program.clone(),
            status: f.status,
            stderr: short_tail(&stderr),
        })
    }
}

/// Spawns `inv` in its own process group with the allowed environment,
/// stdout and stderr piped, stdin piped when `piped_stdin` (else closed).
fn spawn(inv: &Invocation, piped_stdin: bool) -> Result<tokio::process::Child, ExecError> {
    let mut cmd = Command::new(&inv.program);
    cmd.args(&inv.args)
        .stdin(if piped_stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(dir) = &inv.cwd {
        cmd.current_dir(dir);
    }
    // An allow-list: no ATLAS_* setting of this process (a notification
    // password, say) nor anything else unlisted reaches a program; the
    // invocation's own variables are set below.
    cmd.env_clear();
    for (k, v) in std::env::vars_os() {
        if k.to_str().is_some_and(|k| is_passed(k, &inv.pass_env)) {
            cmd.env(k, v);
        }
    }
    for (k, v) in &inv.env {
        cmd.env(k, v);
    }
    tracing::debug!(program = %inv.program, args = ?shown_args(&inv.args), cwd = ?inv.cwd, "spawning");
    cmd.spawn().map_err(|e| io_failure(&e, "spawning", &inv.program))
}

/// Chunk size of streamed standard input and output.
const CHUNK: usize = 64 * 1024;

/// Runs `inv` with its standard input read from `input` (closed when
/// `None`) and its standard output written to `output`, both on blocking
/// threads (compression and disk work stay off the async runtime), so
/// neither is held in memory. `inv.stdin` is ignored. Answers the writer
/// back (to be finished by the caller); [`Finished::stdout`] is empty.
///
/// # Errors
/// As [`run_checked`]; [`ExecError::Io`] when reading `input` or writing
/// `output` failed (reported before the program's own failure, which is
/// then usually a broken pipe).
pub(crate) async fn run_streamed<W>(
    inv: &Invocation,
    input: Option<Box<dyn Read + Send>>,
    output: W,
) -> Result<(Finished, W), ExecError>
where
    W: Write + Send + 'static,
{
    let started = Instant::now();
    let mut child = spawn(inv, input.is_some())?;
    let pid = child.id();
    let stdin = child.stdin.take();
    let mut stdout = child.stdout.take();
    let stderr = child.stderr.take();

    let (out_tx, mut out_rx) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
    let sink = tokio::task::spawn_blocking(move || -> std::io::Result<W> {
        let mut w = output;
        while let Some(chunk) = out_rx.blocking_recv() {
            w.write_all(&chunk)?;
        }
        Ok(w)
    });
    let (in_tx, mut in_rx) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
    let source = input.map(|mut r| {
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            loop {
                let mut buf = vec![0u8; CHUNK];
                let n = r.read(&mut buf)?;
                if n == 0 {
                    return Ok(());
                }
                buf.truncate(n);
                if in_tx.blocking_send(buf).is_err() {
                    // The program stopped reading; its status says why.
                    return Ok(());
                }
            }
        })
    });
    let work = async {
        let feed = async move {
            if let Some(mut w) = stdin {
                while let Some(chunk) = in_rx.recv().await {
                    if w.write_all(&chunk).await.is_err() {
                        break;
                    }
                }
                let _ = w.shutdown().await;
            }
        };
        let pump = async move {
            let Some(out) = stdout.as_mut() else {
                return Ok(());
            };
            let mut buf = vec![0u8; CHUNK];
            loop {
                match out.read(&mut buf).await {
                    Ok(0) => return Ok(()),
                    // A failed sink: stop reading (the program then gets a
                    // broken pipe); the sink's error is reported.
                    Ok(n) => {
                        if out_tx.send(buf[..n].to_vec()).await.is_err() {
                            return Ok(());
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        let (_, pumped, err, status) = tokio::join!(feed, pump, read_tail(stderr), child.wait());
        (pumped, err, status)
    };
    let outcome = tokio::time::timeout(inv.timeout, work).await;
    let duration = started.elapsed();
    let (pumped, err, status) = match outcome {
        Ok(r) => r,
        Err(_) => return Err(timed_out(inv, pid, &mut child, duration).await),
    };
    let joined = |e: tokio::task::JoinError| {
        ExecError::Io(std::io::Error::other(format!(
            "streaming for {}: {e}",
            inv.program
        )))
    };
    let written = sink.await.map_err(joined)?;
    if let Some(source) = source {
        source
            .await
            .map_err(joined)?
            .map_err(|e| io_failure(&e, "reading the input of", &inv.program))?;
    }
    let output = written.map_err(|e| io_failure(&e, "writing the output of", &inv.program))?;
    pumped.map_err(|e| io_failure(&e, "reading the output of", &inv.program))?;
    let status = status.map_err(|e| io_failure(&e, "waiting for", &inv.program))?;
    let finished = Finished::logged(inv, status.code(), String::new(), tail_string(err), duration);
    if !finished.success() {
        return Err(ExecError::Failed {
            program: inv.program.clone(),
            status: finished.status,
            stderr: short_tail(&finished.stderr),
        });
    }
    Ok((finished, output))
}

/// Kills `child` (group `pid`), which ran past its time limit, and says so.
async fn timed_out(
    inv: &Invocation,
    pid: Option<u32>,
    child: &mut tokio::process::Child,
    duration: Duration,
) -> ExecError {
    kill_group(pid);
    let _ = child.kill().await;
    tracing::warn!(
        program = %inv.program,
        args = ?shown_args(&inv.args),
        duration_ms = duration.as_millis() as u64,
        timeout_ms = inv.timeout.as_millis() as u64,
        "program timed out; process group killed"
    );
    ExecError::Timeout(inv.timeout)
}

fn kill_group(pid: Option<u32>) {
    let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) else {
        return;
    };
    if let Err(e) =
        nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL)
    {
        tracing::debug!(pid, error = %e, "killing process group");
    }
}

async fn read_tail<R: AsyncRead + Unpin>(r: Option<R>) -> Vec<u8> {
    let Some(mut r) = r else { return Vec::new() };
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 8192];
    loop {
        match r.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() > 2 * TAIL_BYTES {
                    buf.drain(..buf.len() - TAIL_BYTES);
                }
            }
        }
    }
    if buf.len() > TAIL_BYTES {
        buf.drain(..buf.len() - TAIL_BYTES);
    }
    buf
}

/// The text of a byte tail: a UTF-8 sequence cut at the front is dropped,
/// anything else invalid is replaced.
pub(crate) fn tail_string(mut bytes: Vec<u8>) -> String {
    let skip = bytes
        .iter()
        .take(3)
        .take_while(|b| (**b & 0b1100_0000) == 0b1000_0000)
        .count();
    bytes.drain(..skip);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The last 2 KiB of `s`, for error messages.
fn short_tail(s: &str) -> String {
    const MAX: usize = 2048;
    let s = s.trim_end();
    if s.len() <= MAX {
        return s.to_owned();
    }
    let mut start = s.len() - MAX;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &s[start..])
}

/// Arguments as logged: credentials in URLs (`scheme://user:pass@host`)
/// are masked.
fn shown_args(args: &[OsString]) -> Vec<String> {
    args.iter()
        .map(|a| {
            let a = a.to_string_lossy();
            match (a.find("://"), a.find('@')) {
                (Some(s), Some(at)) if at > s => format!("{}://***{}", &a[..s], &a[at..]),
                _ => a.into_owned(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_string_drops_a_cut_utf8_sequence() {
        let mut v = "é".as_bytes()[1..].to_vec();
        v.extend_from_slice("abc".as_bytes());
        assert_eq!(tail_string(v), "abc");
    }

    #[test]
    fn invocation_debug_never_shows_stdin() {
        let inv = Invocation::new(&Programs::default(), "mysql", Duration::from_secs(1))
            .stdin(b"IDENTIFIED BY 'hunter2'".to_vec());
        let dbg = format!("{inv:?}");
        assert!(
            !dbg.contains("hunter2") && dbg.contains("stdin_bytes: Some(23)"),
            "{dbg}"
        );
    }

    #[test]
    fn shown_args_mask_url_credentials() {
        let args = vec![
            OsString::from("https://u:tok@host/r.git"),
            OsString::from("plain"),
        ];
        assert_eq!(
            shown_args(&args),
            vec!["https://***@host/r.git".to_string(), "plain".to_string()]
        );
    }

    #[tokio::test]
    async fn programs_get_only_the_allowed_environment_and_their_own_variables() {
        // A secret setting of this process must not reach a command, nor
        // any other variable that is not on the allow-list.
        std::env::set_var("ATLAS_NOTIFY__EMAIL__PASSWORD", "s3cret-from-env");
        std::env::set_var("UNLISTED_TOKEN", "unlisted-value");
        std::env::set_var("LANG", "C.UTF-8");
        std::env::set_var("LC_TIME", "C");
        let inv = Invocation::new(&Programs::default(), "env", Duration::from_secs(10))
            .env("ATLAS_INSTANCE_VAR_OK", "1");
        let out = run(&inv).await.unwrap();
        let stdout = &out.stdout;
        assert!(!stdout.contains("s3cret-from-env"), "{stdout}");
        assert!(!stdout.contains("unlisted-value"), "{stdout}");
        assert!(stdout.contains("PATH="), "{stdout}");
        assert!(stdout.contains("LANG=C.UTF-8"), "{stdout}");
        assert!(stdout.contains("LC_TIME=C"), "{stdout}");
        assert!(
            stdout.contains("ATLAS_INSTANCE_VAR_OK=1"),
            "the invocation's own variables: {stdout}"
        );
        for name in stdout.lines().filter_map(|l| l.split('=').next()) {
            assert!(
                is_passed(name, &[]) || name == "ATLAS_INSTANCE_VAR_OK" || name == "PWD",
                "{name} leaked into the program's environment"
            );
        }
    }

    #[tokio::test]
    async fn pass_env_hands_on_the_named_variables_only() {
        std::env::set_var("HTTPS_PROXY_FOR_TEST", "http://proxy.example.edu:3128");
        std::env::set_var("OTHER_UNLISTED", "no");
        let programs = Programs {
            pass_env: vec!["HTTPS_PROXY_FOR_TEST".into()],
            ..Programs::default()
        };
        let out = run(&Invocation::new(&programs, "env", Duration::from_secs(10)))
            .await
            .unwrap();
        assert!(
            out.stdout
                .contains("HTTPS_PROXY_FOR_TEST=http://proxy.example.edu:3128"),
            "{}",
            out.stdout
        );
        assert!(!out.stdout.contains("OTHER_UNLISTED"), "{}", out.stdout);
    }

    #[test]
    fn atlas_settings_are_never_passed_even_when_named() {
        assert!(!is_passed(
            "ATLAS_NOTIFY__EMAIL__PASSWORD",
            &["ATLAS_NOTIFY__EMAIL__PASSWORD".into()]
        ));
        assert!(is_passed("PATH", &[]));
        assert!(is_passed("LC_ALL", &[]));
        assert!(!is_passed("LD_PRELOAD", &[]));
    }

    #[tokio::test]
    async fn run_feeds_stdin_and_captures_both_streams() {
        let inv = Invocation::new(&Programs::default(), "/bin/sh", Duration::from_secs(10))
            .args(["-c", "cat; echo oops >&2; exit 3"])
            .stdin(b"hello".to_vec());
        let f = run(&inv).await.unwrap();
        assert_eq!(f.status, Some(3));
        assert_eq!(f.stdout, "hello");
        assert_eq!(f.stderr, "oops\n");
    }

    #[tokio::test]
    async fn run_keeps_only_the_tail_of_long_output() {
        let inv = Invocation::new(&Programs::default(), "/bin/sh", Duration::from_secs(10))
            .args(["-c", "i=0; while [ $i -lt 3000 ]; do echo 0123456789012345678901234567890123456789; i=$((i+1)); done; echo END"]);
        let f = run(&inv).await.unwrap();
        assert!(f.stdout.len() <= TAIL_BYTES);
        assert!(f.stdout.ends_with("END\n"));
    }

    #[tokio::test]
    async fn run_checked_reports_program_status_and_stderr() {
        let inv = Invocation::new(&Programs::default(), "/bin/sh", Duration::from_secs(10))
            .args(["-c", "echo bad >&2; exit 2"]);
        match run_checked(&inv).await {
            Err(ExecError::Failed {
                program,
                status,
                stderr,
            }) => {
                assert_eq!(program, "/bin/sh");
                assert_eq!(status, Some(2));
                assert_eq!(stderr, "bad");
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn run_times_out_and_kills_the_whole_group() {
        let inv = Invocation::new(&Programs::default(), "/bin/sh", Duration::from_millis(200))
            .args(["-c", "sleep 20; echo late"]);
        let started = Instant::now();
        assert!(matches!(run(&inv).await, Err(ExecError::Timeout(_))));
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
