//! The store refuses what it must not write into, and says so: nothing is overwritten.

use crate::watch::Watch;

#[track_caller]
fn refused(w: &Watch, fragment: &str) {
    for args in [vec!["run"], vec!["status"], vec!["history"]] {
        let run = w.rblwatch(&args);
        assert_eq!(run.code, 3, "{args:?}: {run:?}");
        let expected = format!("rblwatch: store {}: ", w.store().display());
        assert!(
            run.stderr.starts_with(&expected),
            "{args:?}: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains(fragment),
            "{args:?}: want `{fragment}` in {}",
            run.stderr
        );
    }
}

#[test]
fn a_corrupt_store_is_refused_untouched() {
    let w = Watch::start();
    let junk = b"this is not a database, it is a text file with some words in it\n".repeat(100);
    std::fs::write(w.store(), &junk).expect("write junk");
    refused(&w, "not an rblwatch store");
    assert_eq!(
        std::fs::read(w.store()).expect("read"),
        junk,
        "the file was changed"
    );
}

#[test]
fn a_foreign_sqlite_file_is_refused_untouched() {
    let w = Watch::start();
    {
        let db = rusqlite::Connection::open(w.store()).expect("sqlite");
        db.execute_batch("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers (name) VALUES ('x');")
            .expect("foreign table");
    }
    let before = std::fs::read(w.store()).expect("read");
    refused(&w, "another program");
    assert_eq!(std::fs::read(w.store()).expect("read"), before);
}

#[test]
fn a_store_from_a_newer_rblwatch_is_refused() {
    let w = Watch::start();
    w.pass();
    {
        let db = rusqlite::Connection::open(w.store()).expect("sqlite");
        db.pragma_update(None, "user_version", 99)
            .expect("bump version");
    }
    refused(
        &w,
        "schema version 99, newer than this rblwatch knows (8); upgrade rblwatch",
    );
}

#[test]
fn an_unwritable_store_path_is_named() {
    let w = Watch::start();
    // A directory cannot be created below a regular file.
    let blocker = w.store().with_file_name("blocker");
    std::fs::write(&blocker, "a file").expect("file");
    w.edit_config("store = \"state.db\"", "store = \"blocker/sub/state.db\"");
    let run = w.rblwatch(&["run"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stderr.starts_with(&format!(
            "rblwatch: store {}: cannot create",
            blocker.join("sub/state.db").display()
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn a_fresh_store_is_created_with_its_directory_in_wal_mode() {
    let w = Watch::start();
    w.edit_config("store = \"state.db\"", "store = \"deep/er/state.db\"");
    w.pass();
    let path = w.config().with_file_name("deep/er/state.db");
    let db = rusqlite::Connection::open(&path).expect("open store");
    let mode: String = db
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("mode");
    assert_eq!(mode, "wal");
    let version: i64 = db
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(version, 8);
    let runs: i64 = db
        .query_row("SELECT count(*) FROM runs", [], |r| r.get(0))
        .expect("runs");
    assert_eq!(runs, 1);
}
