//! One SQL connection, SQLite or PostgreSQL, behind the few calls the store makes: execute,
//! query (rows copied out), a batch of statements, a transaction. The store's SQL is written
//! once, in the dialect both accept (`ON CONFLICT`, `RETURNING`, `?N` parameters, `temp.` for
//! the connection's own tables), and translated for PostgreSQL here.
//!
//! The PostgreSQL client blocks on a runtime of its own, which tokio forbids on a thread that
//! drives async tasks, and the store is called from such threads: the connection lives on a
//! thread of its own, and each call is handed to it and waited for.

use std::sync::mpsc;

use postgres::types::{ToSql, Type};

use super::postgres::Location;
use crate::error::Error;

/// A parameter.
#[derive(Debug, Clone)]
pub(super) enum Param {
    /// An integer, or NULL.
    Int(Option<i64>),
    /// A text, or NULL.
    Text(Option<String>),
}

impl From<i64> for Param {
    fn from(v: i64) -> Param {
        Param::Int(Some(v))
    }
}
impl From<Option<i64>> for Param {
    fn from(v: Option<i64>) -> Param {
        Param::Int(v)
    }
}
impl From<u32> for Param {
    fn from(v: u32) -> Param {
        Param::Int(Some(i64::from(v)))
    }
}
impl From<&str> for Param {
    fn from(v: &str) -> Param {
        Param::Text(Some(v.to_string()))
    }
}
impl From<&String> for Param {
    fn from(v: &String) -> Param {
        Param::Text(Some(v.clone()))
    }
}
impl From<String> for Param {
    fn from(v: String) -> Param {
        Param::Text(Some(v))
    }
}
impl From<&Option<String>> for Param {
    fn from(v: &Option<String>) -> Param {
        Param::Text(v.clone())
    }
}
impl From<Option<&str>> for Param {
    fn from(v: Option<&str>) -> Param {
        Param::Text(v.map(str::to_string))
    }
}

/// `[a, b, ...]` as parameters.
macro_rules! args {
    ($($v:expr),* $(,)?) => { &[$($crate::store::sql::Param::from($v)),*][..] };
}
pub(super) use args;

/// One value of a row.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Null,
    Int(i64),
    Text(String),
}

/// One row, copied out of the connection.
#[derive(Debug, Clone)]
pub(super) struct Row(Vec<Value>);

impl Row {
    /// Column `i` as an integer (NULL or text: 0).
    pub(super) fn int(&self, i: usize) -> i64 {
        self.opt_int(i).unwrap_or(0)
    }

    /// Column `i` as an integer, NULL as None.
    pub(super) fn opt_int(&self, i: usize) -> Option<i64> {
        match self.0.get(i) {
            Some(Value::Int(v)) => Some(*v),
            Some(Value::Text(t)) => t.parse().ok(),
            _ => None,
        }
    }

    /// Column `i` as a text (NULL: empty).
    pub(super) fn text(&self, i: usize) -> String {
        self.opt_text(i).unwrap_or_default()
    }

    /// Column `i` as a text, NULL as None.
    pub(super) fn opt_text(&self, i: usize) -> Option<String> {
        match self.0.get(i) {
            Some(Value::Text(t)) => Some(t.clone()),
            Some(Value::Int(v)) => Some(v.to_string()),
            _ => None,
        }
    }
}

/// An open connection.
pub(super) enum Conn {
    Sqlite(rusqlite::Connection),
    Postgres(PgConn),
}

impl Conn {
    /// Runs one statement; returns the rows it changed.
    pub(super) fn execute(&self, sql: &str, params: &[Param]) -> Result<u64, String> {
        match self {
            Conn::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql).map_err(|e| e.to_string())?;
                let n = stmt
                    .execute(rusqlite::params_from_iter(params.iter().map(sqlite_param)))
                    .map_err(|e| e.to_string())?;
                Ok(u64::try_from(n).unwrap_or(0))
            }
            Conn::Postgres(pg) => pg
                .call(Op::Execute(translate(sql), params.to_vec()))
                .map(|r| match r {
                    Reply::Count(n) => n,
                    Reply::Rows(_) | Reply::Done => 0,
                }),
        }
    }

    /// Runs one query; returns its rows.
    pub(super) fn query(&self, sql: &str, params: &[Param]) -> Result<Vec<Row>, String> {
        self.query_ahead(sql, params).wait()
    }

    /// Starts a query whose rows are taken later (`Pending::wait`): on PostgreSQL the
    /// database works on it while the caller goes on; on SQLite it runs at once.
    pub(super) fn query_ahead(&self, sql: &str, params: &[Param]) -> Pending {
        match self {
            Conn::Sqlite(c) => Pending::Ready(sqlite_rows(c, sql, params)),
            Conn::Postgres(pg) => match pg.send(Op::Query(translate(sql), params.to_vec())) {
                Ok(answer) => Pending::Waiting(answer),
                Err(why) => Pending::Ready(Err(why)),
            },
        }
    }

    /// Loads `data`, rows in COPY's text format (see `copy_row`), with `copy` (a `COPY ...
    /// FROM STDIN`); PostgreSQL only. Not waited for: the caller goes on while the database
    /// loads, and an error is returned by the next call made on this connection.
    pub(super) fn copy_later(&self, copy: &str, data: String) -> Result<(), String> {
        match self {
            Conn::Sqlite(_) => Err("COPY is PostgreSQL's".into()),
            Conn::Postgres(pg) => pg.later(Op::Copy(translate(copy), data)),
        }
    }

    /// The first row of a query, if any.
    pub(super) fn query_one(&self, sql: &str, params: &[Param]) -> Result<Option<Row>, String> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// Runs statements separated by `;`, without parameters.
    pub(super) fn batch(&self, sql: &str) -> Result<(), String> {
        match self {
            Conn::Sqlite(c) => c.execute_batch(sql).map_err(|e| e.to_string()),
            Conn::Postgres(pg) => pg.call(Op::Batch(translate(sql))).map(|_| ()),
        }
    }

    /// Runs `work` in one transaction: committed when it returns Ok, rolled back otherwise.
    pub(super) fn transaction<T>(
        &self,
        work: impl FnOnce(&Conn) -> Result<T, String>,
    ) -> Result<T, String> {
        self.batch("BEGIN")?;
        match work(self) {
            Ok(value) => {
                self.batch("COMMIT")?;
                Ok(value)
            }
            Err(why) => {
                let _ = self.batch("ROLLBACK");
                Err(why)
            }
        }
    }

    /// Whether this is PostgreSQL (for the few statements that differ beyond translation).
    pub(super) fn is_postgres(&self) -> bool {
        matches!(self, Conn::Postgres(_))
    }
}

fn sqlite_rows(c: &rusqlite::Connection, sql: &str, params: &[Param]) -> Result<Vec<Row>, String> {
    let mut stmt = c.prepare_cached(sql).map_err(|e| e.to_string())?;
    let columns = stmt.column_count();
    let mut rows = stmt
        .query(rusqlite::params_from_iter(params.iter().map(sqlite_param)))
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(|e| e.to_string())? {
        let mut values = Vec::with_capacity(columns);
        for i in 0..columns {
            use rusqlite::types::ValueRef;
            values.push(match row.get_ref(i).map_err(|e| e.to_string())? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(v) => Value::Int(v),
                ValueRef::Real(v) => Value::Text(v.to_string()),
                ValueRef::Text(t) | ValueRef::Blob(t) => {
                    Value::Text(String::from_utf8_lossy(t).into_owned())
                }
            });
        }
        out.push(Row(values));
    }
    Ok(out)
}

/// A query's rows, to be taken when they are needed.
pub(super) enum Pending {
    Ready(Result<Vec<Row>, String>),
    Waiting(mpsc::Receiver<Result<Reply, String>>),
}

impl Pending {
    /// The rows (waiting for them if the database is still at work).
    pub(super) fn wait(self) -> Result<Vec<Row>, String> {
        match self {
            Pending::Ready(rows) => rows,
            Pending::Waiting(answer) => match answer.recv() {
                Ok(Ok(Reply::Rows(rows))) => Ok(rows),
                Ok(Ok(Reply::Count(_) | Reply::Done)) => Ok(Vec::new()),
                Ok(Err(why)) => Err(why),
                Err(_) => Err("the database connection is gone".into()),
            },
        }
    }
}

/// Appends one row to `out` in COPY's text format: fields separated by tabs, NULL as `\N`,
/// backslash, tab, newline and carriage return escaped.
pub(super) fn copy_row(out: &mut String, fields: &[Option<&str>]) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push('\t');
        }
        let Some(text) = field else {
            out.push_str("\\N");
            continue;
        };
        for c in text.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                c => out.push(c),
            }
        }
    }
    out.push('\n');
}

fn sqlite_param(p: &Param) -> rusqlite::types::Value {
    match p {
        Param::Int(Some(v)) => rusqlite::types::Value::Integer(*v),
        Param::Text(Some(t)) => rusqlite::types::Value::Text(t.clone()),
        Param::Int(None) | Param::Text(None) => rusqlite::types::Value::Null,
    }
}

/// The store's SQL for PostgreSQL: `?N` parameters as `$N`, `temp.` as `pg_temp.`, `main.`
/// dropped (its tables are in the connection's search path).
fn translate(sql: &str) -> String {
    // Only ASCII is matched and replaced, so the text stays UTF-8 byte for byte.
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len() + 8);
    let mut copied = 0;
    let mut i = 0;
    let word_start =
        |i: usize| i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
    while i < bytes.len() {
        let (skip, with) = if bytes[i] == b'?' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            (1, "$")
        } else if word_start(i) && bytes[i..].starts_with(b"temp.") {
            (5, "pg_temp.")
        } else if word_start(i) && bytes[i..].starts_with(b"main.") {
            (5, "")
        } else {
            i += 1;
            continue;
        };
        out.push_str(&sql[copied..i]);
        out.push_str(with);
        i += skip;
        copied = i;
    }
    out.push_str(&sql[copied..]);
    out
}

/// What the connection's thread is asked to do.
enum Op {
    Execute(String, Vec<Param>),
    Query(String, Vec<Param>),
    Batch(String),
    /// `COPY ... FROM STDIN`, and its data.
    Copy(String, String),
}

/// What it answers.
pub(super) enum Reply {
    Count(u64),
    Rows(Vec<Row>),
    Done,
}

type Job = (Op, mpsc::Sender<Result<Reply, String>>);

/// A PostgreSQL connection on a thread of its own; dropped, the thread ends and the
/// connection closes (releasing its session locks).
pub(super) struct PgConn {
    jobs: mpsc::Sender<Job>,
    /// Answers to work handed over and not waited for (`later`), oldest first.
    pending: std::sync::Mutex<Vec<mpsc::Receiver<Result<Reply, String>>>>,
}

impl PgConn {
    /// Connects to `location` on a new thread.
    pub(super) fn connect(location: &Location) -> Result<PgConn, Error> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let (ready, started) = mpsc::channel::<Result<(), Error>>();
        let location = location.clone();
        std::thread::Builder::new()
            .name("rblwatch-postgres".into())
            .spawn(move || {
                let mut client = match location.client() {
                    Ok(client) => {
                        let _ = ready.send(Ok(()));
                        client
                    }
                    Err(err) => {
                        let _ = ready.send(Err(err));
                        return;
                    }
                };
                let mut prepared = Prepared::default();
                while let Ok((op, reply)) = queue.recv() {
                    let _ = reply.send(run(&mut client, &mut prepared, op));
                }
            })
            .map_err(|e| Error::Store {
                path: String::new(),
                message: format!("cannot start the database thread: {e}"),
            })?;
        started.recv().unwrap_or_else(|_| {
            Err(Error::Store {
                path: String::new(),
                message: "the database thread ended".into(),
            })
        })?;
        Ok(PgConn {
            jobs,
            pending: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// Hands `op` to the connection's thread and waits for its answer (and for any work
    /// handed over before it: its error, if any, is this call's).
    fn call(&self, op: Op) -> Result<Reply, String> {
        let answer = self.send(op)?;
        answer
            .recv()
            .map_err(|_| "the database connection is gone".to_string())?
    }

    /// Hands `op` over; its answer is to be waited for. Work handed over earlier without
    /// waiting is settled first, and its error returned instead: what follows it must not
    /// run as if it had succeeded.
    fn send(&self, op: Op) -> Result<mpsc::Receiver<Result<Reply, String>>, String> {
        let earlier = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        for done in earlier {
            done.recv()
                .map_err(|_| "the database connection is gone".to_string())??;
        }
        let (reply, answer) = mpsc::channel();
        self.jobs
            .send((op, reply))
            .map_err(|_| "the database connection is gone".to_string())?;
        Ok(answer)
    }

    /// Hands `op` over without waiting for it (see `send`).
    fn later(&self, op: Op) -> Result<(), String> {
        let answer = self.send(op)?;
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(answer);
        Ok(())
    }
}

/// Statements prepared on this connection, by their text: a pass sends the same few
/// statements thousands of times, and parsing a batch insert of hundreds of rows costs the
/// server as much as running it.
#[derive(Default)]
struct Prepared(std::collections::HashMap<String, postgres::Statement>);

/// Statements kept prepared; past it the cache starts over (a pass uses a handful).
const PREPARED_LIMIT: usize = 64;

impl Prepared {
    fn get(
        &mut self,
        client: &mut postgres::Client,
        sql: &str,
    ) -> Result<postgres::Statement, postgres::Error> {
        if let Some(statement) = self.0.get(sql) {
            return Ok(statement.clone());
        }
        let statement = client.prepare(sql)?;
        if self.0.len() >= PREPARED_LIMIT {
            self.0.clear();
        }
        self.0.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }
}

fn run(client: &mut postgres::Client, prepared: &mut Prepared, op: Op) -> Result<Reply, String> {
    let describe = |e: postgres::Error| super::postgres::describe(&e);
    match op {
        Op::Batch(sql) => {
            // A statement prepared against a table this batch changes is prepared again.
            let upper = sql.to_ascii_uppercase();
            if ["CREATE", "DROP", "ALTER"]
                .iter()
                .any(|w| upper.contains(w))
            {
                prepared.0.clear();
            }
            client
                .batch_execute(&sql)
                .map(|()| Reply::Done)
                .map_err(describe)
        }
        Op::Execute(sql, params) => {
            let values = pg_params(&params);
            let refs: Vec<&(dyn ToSql + Sync)> = values
                .iter()
                .map(|v| v.as_ref() as &(dyn ToSql + Sync))
                .collect();
            let statement = prepared.get(client, &sql).map_err(describe)?;
            client
                .execute(&statement, &refs)
                .map(Reply::Count)
                .map_err(describe)
        }
        Op::Copy(copy, data) => {
            use std::io::Write;
            let mut writer = client.copy_in(copy.as_str()).map_err(describe)?;
            writer
                .write_all(data.as_bytes())
                .map_err(|e| format!("cannot load rows: {e}"))?;
            writer.finish().map(Reply::Count).map_err(describe)
        }
        Op::Query(sql, params) => {
            let values = pg_params(&params);
            let refs: Vec<&(dyn ToSql + Sync)> = values
                .iter()
                .map(|v| v.as_ref() as &(dyn ToSql + Sync))
                .collect();
            let statement = prepared.get(client, &sql).map_err(describe)?;
            let rows = client.query(&statement, &refs).map_err(describe)?;
            Ok(Reply::Rows(rows.iter().map(pg_row).collect()))
        }
    }
}

fn pg_params(params: &[Param]) -> Vec<Box<dyn ToSql + Sync + Send>> {
    params
        .iter()
        .map(|p| -> Box<dyn ToSql + Sync + Send> {
            match p {
                Param::Int(v) => Box::new(*v),
                Param::Text(v) => Box::new(v.clone()),
            }
        })
        .collect()
}

fn pg_row(row: &postgres::Row) -> Row {
    let values = row
        .columns()
        .iter()
        .enumerate()
        .map(|(i, column)| match *column.type_() {
            Type::INT8 => row.get::<_, Option<i64>>(i).map_or(Value::Null, Value::Int),
            Type::INT4 => row
                .get::<_, Option<i32>>(i)
                .map_or(Value::Null, |v| Value::Int(i64::from(v))),
            Type::INT2 => row
                .get::<_, Option<i16>>(i)
                .map_or(Value::Null, |v| Value::Int(i64::from(v))),
            Type::BOOL => row
                .get::<_, Option<bool>>(i)
                .map_or(Value::Null, |v| Value::Int(i64::from(v))),
            _ => row
                .try_get::<_, Option<String>>(i)
                .ok()
                .flatten()
                .map_or(Value::Null, Value::Text),
        })
        .collect();
    Row(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_is_translated_for_postgresql() {
        assert_eq!(
            translate(
                "INSERT INTO temp.pass_state SELECT * FROM main.state WHERE a = ?1 AND b = ?12"
            ),
            "INSERT INTO pg_temp.pass_state SELECT * FROM state WHERE a = $1 AND b = $12"
        );
        assert_eq!(
            translate("UPDATE outbox SET attempts = attempts + 1"),
            "UPDATE outbox SET attempts = attempts + 1"
        );
        assert_eq!(
            translate("SELECT contemp.x, domain.y"),
            "SELECT contemp.x, domain.y"
        );
        assert_eq!(
            translate("SELECT 'é?', ?2 FROM temp.t"),
            "SELECT 'é?', $2 FROM pg_temp.t"
        );
    }
}
