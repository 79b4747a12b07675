//! Queries sent to each list per UTC day, counted against the lists' daily limits.

use std::collections::HashMap;

use super::sql::args;
use super::*;

impl Store {
    /// Queries sent to each list on `day` (UTC days since 1970), by all passes so far.
    pub fn usage(&self, day: i64) -> Result<HashMap<String, u64>, Error> {
        let rows = self
            .conn
            .query("SELECT list, queries FROM usage WHERE day = ?1", args![day])
            .map_err(|e| self.error(e))?;
        Ok(rows
            .iter()
            .map(|r| (r.text(0), u64::try_from(r.int(1)).unwrap_or(0)))
            .collect())
    }
}
