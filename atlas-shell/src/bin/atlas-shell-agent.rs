//! The host agent as a program of its own (tests, and hosts without the
//! `atlas` binary): one request on standard input, one reply on standard
//! output ([`atlas_shell::agent`]).

fn main() -> std::process::ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("atlas-shell-agent: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(atlas_shell::agent::run_stdio()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("atlas-shell-agent: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
