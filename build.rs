//! Turns the built-in catalog (`lists.toml`) into a compact image for the binary to embed:
//! read at every start, it takes a fraction of the time TOML or JSON does (no text to scan,
//! no escapes, no numbers to parse). The TOML text is embedded too; it is what errors point
//! into, and what is read if this conversion could not be made (a syntax error in lists.toml
//! is then reported by the binary and its tests, with line and column).
//!
//! The image is the TOML document as a tree of tagged values, read by `src/lists/image.rs`
//! (which holds the format) straight into the raw catalog types. Its numbers are written seven
//! bits to a byte, so everything but its texts is ASCII and the whole image is UTF-8; the
//! binary checks that when it is compiled, not at every start.

use std::path::PathBuf;

use serde_json::Value;

fn main() {
    println!("cargo::rerun-if-changed=lists.toml");
    println!("cargo::rerun-if-changed=build.rs");
    link_unwinder_statically();
    pack_relative_relocations();
    order_startup_functions();
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let text = std::fs::read_to_string("lists.toml").expect("lists.toml is readable");
    let image = toml::from_str::<Value>(&text)
        .ok()
        .and_then(|catalog| {
            let mut image = Vec::new();
            encode(&catalog, &mut image)?;
            Some(image)
        })
        .unwrap_or_default();
    std::fs::write(out.join("lists.bin"), image).expect("OUT_DIR is writable");
}

/// Appends `value` in the image format (see `src/lists/image.rs`); None for a value it has
/// no tag for.
fn encode(value: &Value, out: &mut Vec<u8>) -> Option<()> {
    let len = |n: usize, out: &mut Vec<u8>| -> Option<()> {
        (n < 1 << 28).then(|| seven_bits(n as u64, 4, out))
    };
    match value {
        Value::Bool(b) => out.push(if *b { b't' } else { b'f' }),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => {
                out.push(b'i');
                seven_bits(u64::from_le_bytes(i.to_le_bytes()), 10, out);
            }
            (None, Some(f)) => {
                out.push(b'd');
                seven_bits(f.to_bits(), 10, out);
            }
            (None, None) => return None,
        },
        Value::String(text) => {
            out.push(b's');
            len(text.len(), out)?;
            out.extend_from_slice(text.as_bytes());
        }
        Value::Array(items) => {
            out.push(b'a');
            len(items.len(), out)?;
            for item in items {
                encode(item, out)?;
            }
        }
        Value::Object(table) => {
            out.push(b'm');
            len(table.len(), out)?;
            for (key, item) in table {
                len(key.len(), out)?;
                out.extend_from_slice(key.as_bytes());
                encode(item, out)?;
            }
        }
        Value::Null => return None,
    }
    Some(())
}

/// Appends `n` as `bytes` bytes of seven bits each, lowest first (ten hold 64 bits).
fn seven_bits(mut n: u64, bytes: usize, out: &mut Vec<u8>) {
    for _ in 0..bytes {
        out.push((n & 0x7f) as u8);
        n >>= 7;
    }
}

/// Links GCC's unwinder (libgcc_eh.a) into the binary instead of loading libgcc_s.so.1 at every
/// start: the shared library's constructor probes the CPU (each probe a trap to the hypervisor
/// on a virtual machine), and mapping it costs as much again; together about 0.1 ms of each
/// run. Only the GNU toolchain on Linux ships it; elsewhere the default stays.
fn link_unwinder_statically() {
    if target_is_linux_gnu() {
        println!("cargo::rustc-link-lib=static:-bundle=gcc_eh");
    }
}

/// Has the linker write the binary's relative relocations packed (DT_RELR, `-z
/// pack-relative-relocs`): about 13,000 of them, each 24 bytes as RELA, 4 KB in all packed. The
/// dynamic loader reads and applies them at every start, and the 78 pages of the unpacked table
/// were a quarter of a millisecond of each run (interleaved A/B, 600 runs). glibc reads the packed
/// form from 2.36 on, and the linker marks the binary as needing it; so this is done only when
/// the binary is built on, and for, the machine's own glibc, and that glibc is 2.36 or later.
fn pack_relative_relocations() {
    let native = env("HOST") == env("TARGET");
    if native && target_is_linux_gnu() && glibc_at_least(2, 36) {
        println!("cargo::rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Hands the linker `src/startup.order` (written by `bench/startup.sh --order`): the 675 or so
/// functions a start runs, which it then lays out side by side at the start of the code
/// instead of spread over its 11 MB. A check then takes 15 page faults for code instead of 55,
/// and the kernel maps and unmaps about 600 fewer pages: 3.31 ms to 2.90 ms a check
/// (interleaved A/B, 500 runs). The option is LLD's (the linker rustc itself uses on x86-64
/// Linux from 1.90 on), so it is passed only when a probe shows the linker this build uses
/// takes it; and only to release builds, whose functions are the ones the file names.
fn order_startup_functions() {
    let order = "src/startup.order";
    println!("cargo::rerun-if-changed={order}");
    let order =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default()).join(order);
    let args = [
        format!("-Wl,--symbol-ordering-file={}", order.display()),
        "-Wl,--no-warn-symbol-ordering".to_string(),
    ];
    if env("PROFILE") == "release" && linker_takes(&args) {
        for arg in args {
            println!("cargo::rustc-link-arg-bins={arg}");
        }
    }
}

/// Whether the linker this build uses links a program with `args` added: an empty program is
/// built with the same compiler, target, flags and linker as the package.
fn linker_takes(args: &[String]) -> bool {
    let out = PathBuf::from(env("OUT_DIR"));
    let source = out.join("probe.rs");
    if std::fs::write(&source, "fn main() {}\n").is_err() {
        return false;
    }
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let mut probe = std::process::Command::new(rustc);
    probe
        .args(["--edition=2024", "--crate-type=bin", "--target"])
        .arg(env("TARGET"))
        .arg("-o")
        .arg(out.join("probe"))
        .arg(&source);
    let flags = env("CARGO_ENCODED_RUSTFLAGS");
    probe.args(flags.split('\x1f').filter(|flag| !flag.is_empty()));
    if let Some(linker) = std::env::var_os("RUSTC_LINKER") {
        let mut arg = std::ffi::OsString::from("linker=");
        arg.push(linker);
        probe.arg("-C").arg(arg);
    }
    for arg in args {
        probe.arg("-C").arg(format!("link-arg={arg}"));
    }
    probe
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Whether the binary is built for Linux with the GNU C library.
fn target_is_linux_gnu() -> bool {
    env("CARGO_CFG_TARGET_OS") == "linux" && env("CARGO_CFG_TARGET_ENV") == "gnu"
}

/// The value cargo gives the build script in `name`, empty when it gives none.
fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_default()
}

/// Whether the glibc this build script runs on is at least `major.minor` (false off glibc).
fn glibc_at_least(major: u32, minor: u32) -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn gnu_get_libc_version() -> *const std::ffi::c_char;
        }
        // SAFETY: glibc returns a static NUL-terminated string such as "2.36".
        let version = unsafe { std::ffi::CStr::from_ptr(gnu_get_libc_version()) };
        let mut parts = version
            .to_str()
            .unwrap_or_default()
            .split('.')
            .map(|n| n.parse::<u32>().unwrap_or(0));
        let found = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        found >= (major, minor)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        let _ = (major, minor);
        false
    }
}
