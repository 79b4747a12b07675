//! How the binary starts and ends: what it loads, the descriptors and signals it sets up
//! itself (it starts from C's `main`), and that what it prints is all there at exit.

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_rblwatch");

/// The binary's dynamic section as `readelf -d` prints it.
fn dynamic_section() -> String {
    let out = Command::new("readelf")
        .args(["-d", BIN])
        .output()
        .expect("run readelf (binutils)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_unwinder_is_linked_in_not_loaded_at_every_start() {
    let dynamic = dynamic_section();
    assert!(dynamic.contains("(NEEDED)"), "{dynamic}");
    assert!(!dynamic.contains("libgcc_s"), "{dynamic}");
}

#[test]
fn no_math_library_is_loaded_and_the_relocations_are_packed() {
    let dynamic = dynamic_section();
    assert!(dynamic.contains("libc.so"), "{dynamic}");
    assert!(!dynamic.contains("libm.so"), "{dynamic}");
    // Packed only where the glibc it is built on reads them (2.36 on).
    let glibc = Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
        .expect("run getconf");
    let glibc = String::from_utf8_lossy(&glibc.stdout);
    let version: Vec<u32> = glibc
        .trim()
        .trim_start_matches("glibc ")
        .split('.')
        .map(|n| n.parse().unwrap_or(0))
        .collect();
    if version >= vec![2, 36] {
        assert!(dynamic.contains("(RELR)"), "glibc {glibc}: {dynamic}");
        assert!(
            !dynamic.contains("(RELACOUNT)"),
            "relative relocations left unpacked: {dynamic}"
        );
    }
}

#[test]
fn a_reader_that_stops_early_ends_the_run_quietly_not_by_a_signal() {
    // The catalog as JSON is larger than a pipe holds, so the writer meets the closed end.
    let mut child = Command::new(BIN)
        .args(["lists", "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start rblwatch");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut first = [0u8; 16];
    stdout
        .read_exact(&mut first)
        .expect("the start of the output");
    drop(stdout);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("piped stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    let status = child.wait().expect("wait for rblwatch");
    assert_eq!(
        status.signal(),
        None,
        "killed by a signal: {status:?} {stderr}"
    );
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "");
}

#[test]
fn with_standard_output_closed_what_it_prints_does_not_land_in_a_file_it_writes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let expected = dir.path().join("expected.toml");
    let run = Command::new(BIN)
        .arg("init")
        .arg(&expected)
        .output()
        .expect("run rblwatch init");
    assert!(run.status.success(), "{run:?}");
    assert!(String::from_utf8_lossy(&run.stdout).starts_with("wrote "));

    // Started with descriptor 1 closed, the config file it creates would be given number 1 and
    // receive the "wrote ..." line, were 1 not first opened on /dev/null.
    let written = dir.path().join("written.toml");
    let mut cmd = Command::new(BIN);
    cmd.arg("init").arg(&written).stderr(Stdio::piped());
    // SAFETY: close(2) is async-signal-safe; the child has not started anything else yet.
    unsafe {
        cmd.pre_exec(|| {
            libc::close(1);
            Ok(())
        });
    }
    let run = cmd.output().expect("run rblwatch init with stdout closed");
    assert!(run.status.success(), "{run:?}");
    let text = std::fs::read_to_string(&written).expect("the written config");
    assert!(!text.contains("wrote "), "{text}");
    assert_eq!(
        text,
        std::fs::read_to_string(&expected).expect("the expected config")
    );
}

#[test]
fn arguments_read_from_c_main_keep_their_bytes_and_bad_ones_are_usage_errors() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    // Not UTF-8: refused as usage, not a panic and not a check of something else.
    let out = Command::new(BIN)
        .arg("check")
        .arg(OsStr::from_bytes(b"192.0.2.\xff"))
        .output()
        .expect("run rblwatch");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid UTF-8"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    // A wrong address arrives whole, spaces and all, and is named in the error.
    let out = Command::new(BIN)
        .args(["check", "192.0.2.5 x"])
        .output()
        .expect("run rblwatch");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("192.0.2.5 x"), "{stderr}");
}
