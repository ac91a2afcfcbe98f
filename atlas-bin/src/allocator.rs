//! The process's memory allocator: mimalloc instead of the system
//! allocator, and how it hands freed memory back to the system.
//!
//! The API's response building allocates from many threads at once, where
//! glibc's arena locks made `GET /code/<id>` about a quarter slower (see
//! the atlas-http load benchmark, which uses the same allocator).
//!
//! mimalloc keeps freed memory for a while (its `purge_delay`, one second
//! by default) before returning it to the system. A password check
//! (argon2id at its default cost) takes 19 MiB while it runs, on whichever
//! blocking thread runs it; with that delay, two checks a moment apart on
//! two threads held both areas, and a fresh server peaked near 70 MiB of
//! resident memory at its first authenticated requests. [`tune`] makes the
//! purge immediate: the shipped load benchmark measured the same request
//! rates and a peak of ~52 MiB. An operator's `MIMALLOC_PURGE_DELAY`
//! (milliseconds, read by mimalloc itself) is left to win.

use libmimalloc_sys::{mi_option_set, mi_option_t};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay`: its position in the `mi_option_e`
/// enumeration of mimalloc v3's `mimalloc.h` (the bindings name no
/// constant for it).
const PURGE_DELAY: mi_option_t = 15;

/// The environment variable through which mimalloc reads the purge delay.
const PURGE_DELAY_ENV: &str = "MIMALLOC_PURGE_DELAY";

/// Returns freed memory to the system at once, unless the operator set
/// [`PURGE_DELAY_ENV`]. Call once, first thing in `main`, before any
/// thread is started.
#[allow(unsafe_code)]
pub fn tune() {
    if std::env::var_os(PURGE_DELAY_ENV).is_some() {
        return;
    }
    // SAFETY: `mi_option_set` stores an integer in mimalloc's option table
    // (a plain store: called first thing in `main`, before any other thread
    // exists); `PURGE_DELAY` is a valid option index (checked by a test).
    unsafe { mi_option_set(PURGE_DELAY, 0) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use libmimalloc_sys::mi_option_get;

    /// The purge delay in force, in milliseconds.
    #[allow(unsafe_code)]
    fn purge_delay_ms() -> std::os::raw::c_long {
        // SAFETY: reads an integer from mimalloc's option table.
        unsafe { mi_option_get(PURGE_DELAY) }
    }

    #[test]
    fn tuning_makes_the_purge_immediate_unless_the_operator_chose() {
        tune();
        match std::env::var(PURGE_DELAY_ENV) {
            Ok(chosen) => assert_eq!(purge_delay_ms().to_string(), chosen.trim()),
            Err(_) => assert_eq!(purge_delay_ms(), 0),
        }
    }

    /// Runs this test binary again with mimalloc's environment variable
    /// set: the option read back at [`PURGE_DELAY`] must be the one
    /// mimalloc filled from `MIMALLOC_PURGE_DELAY`.
    #[test]
    fn the_option_index_is_mimallocs_purge_delay() {
        const NAME: &str = "allocator::tests::the_option_index_is_mimallocs_purge_delay";
        if std::env::var_os("ATLAS_TEST_PURGE_PROBE").is_some() {
            assert_eq!(purge_delay_ms(), 250);
            return;
        }
        let exe = std::env::current_exe().expect("test binary path");
        let out = std::process::Command::new(exe)
            .args(["--exact", NAME, "--test-threads", "1"])
            .env(PURGE_DELAY_ENV, "250")
            .env("ATLAS_TEST_PURGE_PROBE", "1")
            .output()
            .expect("run the test binary again");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "probe failed: {stdout}");
        assert!(stdout.contains("1 passed"), "probe ran no test: {stdout}");
    }
}
