//! Named IANA time zones read from the machine's tz database (`$TZDIR`, else
//! `/usr/share/zoneinfo`), as a chrono time zone the cron crate can walk.
//!
//! Read at run time rather than compiled in: the zones follow the machine's tzdata updates as
//! cron(8) does, and a compiled-in database cost every start of the binary tens of thousands
//! of relocations (each transition's abbreviation is a pointer the loader fixes up).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{FixedOffset, MappedLocalTime, NaiveDate, NaiveDateTime, Offset, TimeZone};

/// Where the tz database is when `$TZDIR` does not say.
const ZONEINFO: &str = "/usr/share/zoneinfo";

/// A tz file is a few kilobytes; anything past this is not one.
const MAX_FILE: u64 = 1 << 20;

/// A named zone (`Europe/Berlin`), cheap to clone.
#[derive(Clone)]
pub struct NamedZone(Arc<Loaded>);

struct Loaded {
    name: String,
    rules: tz::TimeZone,
}

/// An offset from UTC in a named zone: the zone comes along because chrono rebuilds a zone
/// from an offset.
#[derive(Clone)]
pub struct ZoneOffset {
    zone: NamedZone,
    fixed: FixedOffset,
}

impl NamedZone {
    /// Loads `name` from the machine's tz database (`$TZDIR` if set).
    pub fn load(name: &str) -> Result<NamedZone, String> {
        let dir = std::env::var_os("TZDIR")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(ZONEINFO));
        NamedZone::load_from(name, &dir)
    }

    /// Loads `name` from the tz database in `dir`. UTC needs no database.
    pub fn load_from(name: &str, dir: &Path) -> Result<NamedZone, String> {
        let hint = "use an IANA name such as Europe/Berlin, or UTC";
        if !valid_name(name) {
            return Err(format!("unknown time zone `{name}` ({hint})"));
        }
        let rules = if matches!(name, "UTC" | "Etc/UTC") {
            tz::TimeZone::utc()
        } else {
            let path = dir.join(name);
            let bytes = crate::files::read_bytes(&path, MAX_FILE).map_err(|err| {
                if err.kind() == std::io::ErrorKind::NotFound {
                    format!(
                        "unknown time zone `{name}`: no {} ({hint}; the tz database is Debian's `tzdata` package)",
                        path.display()
                    )
                } else {
                    format!("time zone `{name}`: {}: {err}", path.display())
                }
            })?;
            tz::TimeZone::from_tz_data(&bytes).map_err(|err| {
                format!(
                    "time zone `{name}`: {} is not a tz file: {err}",
                    path.display()
                )
            })?
        };
        Ok(NamedZone(Arc::new(Loaded {
            name: name.to_string(),
            rules,
        })))
    }

    /// The offset in effect at `unix` seconds.
    fn offset_at(&self, unix: i64) -> FixedOffset {
        let seconds = self
            .0
            .rules
            .find_local_time_type(unix)
            .map(|t| t.ut_offset())
            .unwrap_or(0);
        FixedOffset::east_opt(seconds).unwrap_or(FixedOffset::east_opt(0).expect("UTC offset"))
    }

    fn offset(&self, fixed: FixedOffset) -> ZoneOffset {
        ZoneOffset {
            zone: self.clone(),
            fixed,
        }
    }
}

/// A name of the form the tz database uses: letters, digits, `_`, `-`, `+` in `/`-separated
/// parts, none of them `.` or `..`, so a configured name cannot reach outside the database.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.split('/').all(|part| {
            !part.is_empty()
                && !part.starts_with('.')
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+' | b'.'))
        })
}

impl PartialEq for NamedZone {
    fn eq(&self, other: &NamedZone) -> bool {
        self.0.name == other.0.name
    }
}

impl fmt::Debug for NamedZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.name)
    }
}

impl fmt::Display for NamedZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.name)
    }
}

impl fmt::Debug for ZoneOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.fixed)
    }
}

impl fmt::Display for ZoneOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.fixed)
    }
}

impl Offset for ZoneOffset {
    fn fix(&self) -> FixedOffset {
        self.fixed
    }
}

impl TimeZone for NamedZone {
    type Offset = ZoneOffset;

    fn from_offset(offset: &ZoneOffset) -> NamedZone {
        offset.zone.clone()
    }

    fn offset_from_local_date(&self, local: &NaiveDate) -> MappedLocalTime<ZoneOffset> {
        match local.and_hms_opt(0, 0, 0) {
            Some(midnight) => self.offset_from_local_datetime(&midnight),
            None => MappedLocalTime::None,
        }
    }

    /// A wall-clock time is valid under an offset when that offset is in effect at the
    /// instant it names. Zones change at most once in two days, so the offsets in effect a
    /// day either side are the only candidates: none valid is a gap (spring forward), two
    /// an overlap (fall back), given earliest instant first.
    fn offset_from_local_datetime(&self, local: &NaiveDateTime) -> MappedLocalTime<ZoneOffset> {
        let wall = local.and_utc().timestamp();
        let mut valid: Vec<(i64, FixedOffset)> = Vec::with_capacity(3);
        for probe in [wall - 86_400, wall, wall + 86_400] {
            let offset = self.offset_at(probe);
            let instant = wall - i64::from(offset.local_minus_utc());
            if self.offset_at(instant) == offset && !valid.iter().any(|(_, o)| *o == offset) {
                valid.push((instant, offset));
            }
        }
        valid.sort_by_key(|(instant, _)| *instant);
        match valid[..] {
            [] => MappedLocalTime::None,
            [(_, one)] => MappedLocalTime::Single(self.offset(one)),
            [(_, first), .., (_, last)] => {
                MappedLocalTime::Ambiguous(self.offset(first), self.offset(last))
            }
        }
    }

    fn offset_from_utc_date(&self, utc: &NaiveDate) -> ZoneOffset {
        let midnight = utc.and_hms_opt(0, 0, 0).unwrap_or_default();
        self.offset_from_utc_datetime(&midnight)
    }

    fn offset_from_utc_datetime(&self, utc: &NaiveDateTime) -> ZoneOffset {
        self.offset(self.offset_at(utc.and_utc().timestamp()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wall(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").expect("time")
    }

    fn zone(name: &str) -> NamedZone {
        NamedZone::load_from(name, Path::new(ZONEINFO)).expect(name)
    }

    #[test]
    fn gaps_and_overlaps_of_daylight_saving() {
        let berlin = zone("Europe/Berlin");
        let offset = |t: &str| berlin.offset_from_local_datetime(&wall(t)).map(|o| o.fix());
        let east = |h: i32| FixedOffset::east_opt(h * 3600).expect("offset");
        assert_eq!(
            offset("2026-01-10 12:00:00"),
            MappedLocalTime::Single(east(1))
        );
        assert_eq!(
            offset("2026-07-10 12:00:00"),
            MappedLocalTime::Single(east(2))
        );
        // 2026-03-29 02:00 -> 03:00: 02:30 never happens.
        assert_eq!(offset("2026-03-29 02:30:00"), MappedLocalTime::None);
        // 2026-10-25 03:00 -> 02:00: 02:30 happens twice, summer time first.
        assert_eq!(
            offset("2026-10-25 02:30:00"),
            MappedLocalTime::Ambiguous(east(2), east(1))
        );
        // Past the file's last transition the footer rule goes on.
        assert_eq!(
            offset("2090-07-10 12:00:00"),
            MappedLocalTime::Single(east(2))
        );
        let new_york = zone("America/New_York");
        assert_eq!(
            new_york
                .offset_from_utc_datetime(&wall("2026-07-01 12:00:00"))
                .fix(),
            FixedOffset::west_opt(4 * 3600).expect("offset")
        );
    }

    #[test]
    fn names_outside_the_database_are_refused() {
        for name in [
            "../../etc/passwd",
            "/etc/localtime",
            "Europe/../UTC",
            "",
            "a//b",
            ".x",
        ] {
            let err = NamedZone::load_from(name, Path::new(ZONEINFO)).err();
            assert!(
                err.is_some_and(|e| e.contains("unknown time zone")),
                "{name}"
            );
        }
        let err =
            NamedZone::load_from("Mars/Olympus", Path::new(ZONEINFO)).expect_err("no such zone");
        assert!(err.contains("/usr/share/zoneinfo/Mars/Olympus"), "{err}");
        // UTC needs no database; a file that is not a tz file is said to be one.
        let empty = tempfile::tempdir().expect("dir");
        assert_eq!(
            NamedZone::load_from("UTC", empty.path())
                .expect("utc")
                .to_string(),
            "UTC"
        );
        // A directory of the database is not a zone.
        let err = NamedZone::load_from("Europe", Path::new(ZONEINFO)).expect_err("a directory");
        assert!(err.contains("not a regular file"), "{err}");
        std::fs::write(empty.path().join("Bogus"), b"not a tz file").expect("write");
        let err = NamedZone::load_from("Bogus", empty.path()).expect_err("bogus");
        assert!(err.contains("is not a tz file"), "{err}");
    }
}
