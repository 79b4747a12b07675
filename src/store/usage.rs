//! Queries sent to each list per UTC day, counted against the lists' daily limits.

use rusqlite::params;
use std::collections::HashMap;

use super::*;

impl Store {
    /// Queries sent to each list on `day` (UTC days since 1970) by earlier passes.
    pub fn usage(&self, day: i64) -> Result<HashMap<String, u64>, Error> {
        let mut stmt = self
            .conn
            .prepare("SELECT list, queries FROM usage WHERE day = ?1")
            .map_err(|e| self.error(e))?;
        let rows = stmt
            .query_map(params![day], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                ))
            })
            .map_err(|e| self.error(e))?;
        rows.collect::<Result<HashMap<_, _>, _>>()
            .map_err(|e| self.error(e))
    }
}
