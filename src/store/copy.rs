//! Copying a whole store into another (a SQLite file into a PostgreSQL database, say): every
//! table, row for row, ids kept (events point at their runs), in one transaction on the
//! destination, which must hold no pass yet.

use super::sql::{Conn, Param};
use super::*;

/// A column's kind, for the parameter it is written with.
#[derive(Clone, Copy)]
enum Kind {
    Int,
    Text,
}

use Kind::{Int, Text};

/// Every table worth copying, with its columns. Workers are not: they are the source's.
const TABLES: &[(&str, &[(&str, Kind)])] = &[
    (
        "runs",
        &[
            ("id", Int),
            ("started", Int),
            ("finished", Int),
            ("targets", Int),
            ("answers", Int),
            ("listed", Int),
            ("clear", Int),
            ("refused", Int),
            ("bogus", Int),
            ("error", Int),
            ("unhealthy", Int),
            ("events", Int),
            ("unknown", Text),
            ("problems", Text),
            ("slot", Int),
        ],
    ),
    (
        "state",
        &[
            ("address", Text),
            ("list", Text),
            ("target", Text),
            ("label", Text),
            ("policy", Text),
            ("status", Text),
            ("codes", Text),
            ("meanings", Text),
            ("txt", Text),
            ("since", Int),
            ("checked", Int),
        ],
    ),
    (
        "retired_state",
        &[
            ("address", Text),
            ("list", Text),
            ("target", Text),
            ("label", Text),
            ("policy", Text),
            ("status", Text),
            ("codes", Text),
            ("meanings", Text),
            ("txt", Text),
            ("since", Int),
            ("checked", Int),
            ("retired", Int),
        ],
    ),
    (
        "events",
        &[
            ("id", Int),
            ("run", Int),
            ("at", Int),
            ("target", Text),
            ("label", Text),
            ("address", Text),
            ("list", Text),
            ("policy", Text),
            ("old_status", Text),
            ("new_status", Text),
            ("old_codes", Text),
            ("codes", Text),
            ("meanings", Text),
            ("txt", Text),
            ("delist_url", Text),
        ],
    ),
    (
        "list_streaks",
        &[
            ("list", Text),
            ("passes", Int),
            ("since", Int),
            ("detail", Text),
        ],
    ),
    (
        "outbox",
        &[
            ("id", Int),
            ("run", Int),
            ("created", Int),
            ("channel", Text),
            ("recipient", Text),
            ("subject", Text),
            ("body_text", Text),
            ("body_html", Text),
            ("attempts", Int),
            ("next_attempt", Int),
            ("last_error", Text),
            ("sent", Int),
            ("failed", Int),
        ],
    ),
    (
        "requests",
        &[("address", Text), ("list", Text), ("requested", Int)],
    ),
    (
        "reminders",
        &[("address", Text), ("list", Text), ("at", Int)],
    ),
    ("usage", &[("list", Text), ("day", Int), ("queries", Int)]),
    (
        "list_health",
        &[("list", Text), ("health", Text), ("checked", Int)],
    ),
    (
        "domain_members",
        &[
            ("domain", Text),
            ("role", Text),
            ("target", Text),
            ("path", Text),
            ("since", Int),
        ],
    ),
];

/// Tables whose `id` the database numbers itself (PostgreSQL: an identity column).
const NUMBERED: &[&str] = &["runs", "events", "outbox"];

impl Store {
    /// Copies every row of `source` into this store, which must hold no pass yet. Returns how
    /// many rows each table got.
    pub fn copy_from(&mut self, source: &Store) -> Result<Vec<(&'static str, usize)>, Error> {
        let runs = self
            .conn
            .query_one("SELECT count(*) FROM runs", &[])
            .map_err(|e| self.error(e))?
            .map_or(0, |r| r.int(0));
        if runs > 0 {
            return Err(self.error(format!(
                "already holds {runs} pass(es): copy only into a new, empty store"
            )));
        }
        let mut rows = Vec::new();
        for (table, columns) in TABLES {
            let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
            let found = source
                .conn
                .query(&format!("SELECT {} FROM {table}", names.join(", ")), &[])
                .map_err(|e| source.error(e))?;
            rows.push((*table, columns, found));
        }
        let postgres = self.conn.is_postgres();
        let copied = self
            .conn
            .transaction(|conn| {
                let mut counts = Vec::new();
                for (table, columns, found) in &rows {
                    let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
                    let slots: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
                    let overriding = if postgres && NUMBERED.contains(table) {
                        " OVERRIDING SYSTEM VALUE"
                    } else {
                        ""
                    };
                    let sql = format!(
                        "INSERT INTO {table} ({}){overriding} VALUES ({})",
                        names.join(", "),
                        slots.join(", ")
                    );
                    for row in found {
                        let params: Vec<Param> = columns
                            .iter()
                            .enumerate()
                            .map(|(i, (_, kind))| match kind {
                                Int => Param::Int(row.opt_int(i)),
                                Text => Param::Text(row.opt_text(i)),
                            })
                            .collect();
                        conn.execute(&sql, &params)?;
                    }
                    if postgres && NUMBERED.contains(table) {
                        renumber(conn, table)?;
                    }
                    counts.push((*table, found.len()));
                }
                Ok(counts)
            })
            .map_err(|e| self.error(e))?;
        Ok(copied)
    }
}

/// Sets a PostgreSQL identity past the ids copied in, so new rows do not collide with them.
fn renumber(conn: &Conn, table: &str) -> Result<(), String> {
    conn.query(
        &format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT max(id) FROM {table}), 1), (SELECT count(*) > 0 FROM {table}))"
        ),
        &[],
    )
    .map(|_| ())
}
