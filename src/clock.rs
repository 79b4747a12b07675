//! The one place that reads the wall clock, and the UTC date arithmetic the store needs.
//!
//! Times are Unix seconds everywhere inside; they are shown as RFC 3339 UTC. Tests set the
//! clock with `RBLWATCH_NOW` (Unix seconds or a date), so "since when" can be checked.

use std::time::{SystemTime, UNIX_EPOCH};

/// The environment variable that overrides the clock.
pub const NOW_VAR: &str = "RBLWATCH_NOW";

/// Now, in Unix seconds (or `RBLWATCH_NOW` when set and valid).
pub fn now() -> i64 {
    if let Some(fixed) = std::env::var(NOW_VAR).ok().and_then(|v| parse(&v)) {
        return fixed;
    }
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `2026-11-28T10:03:47Z` for a Unix time.
pub fn format(ts: i64) -> String {
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// A period in words, in days from two days on, hours from two hours, else minutes: `3 days`,
/// `30 hours`, `1 minute`. A smaller unit until two of the larger, so a day and a half is not
/// shown as `1 day`.
pub fn length(secs: i64) -> String {
    let secs = secs.max(0);
    let (n, unit) = match secs {
        s if s >= 2 * 86_400 => (s / 86_400, "day"),
        s if s >= 2 * 3600 => (s / 3600, "hour"),
        s => (s / 60, "minute"),
    };
    match n {
        0 => "less than a minute".into(),
        1 => format!("1 {unit}"),
        n => format!("{n} {unit}s"),
    }
}

/// Parses Unix seconds, `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDTHH:MM:SSZ`.
pub fn parse(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<i64>() {
        return Some(secs);
    }
    let (date, time) = match text.split_once(['T', ' ']) {
        Some((date, time)) => (date, Some(time.trim_end_matches('Z'))),
        None => (text, None),
    };
    let mut parts = date.splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let mut secs = days_from_civil(y, m, d) * 86_400;
    if let Some(time) = time {
        let mut hms = time.split(':');
        let h: i64 = hms.next()?.parse().ok()?;
        let mi: i64 = hms.next().unwrap_or("0").parse().ok()?;
        let s: i64 = hms.next().unwrap_or("0").parse().ok()?;
        if h > 23 || mi > 59 || s > 60 {
            return None;
        }
        secs += h * 3600 + mi * 60 + s;
    }
    Some(secs)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_length_is_in_the_largest_unit_with_two_or_more() {
        let cases = [
            (-5, "less than a minute"),
            (59, "less than a minute"),
            (60, "1 minute"),
            (119 * 60, "119 minutes"),
            (2 * 3600, "2 hours"),
            (36 * 3600, "36 hours"),
            (2 * 86_400 + 3600, "2 days"),
            (400 * 86_400, "400 days"),
        ];
        for (secs, want) in cases {
            assert_eq!(length(secs), want, "{secs}");
        }
    }

    #[track_caller]
    fn case(text: &str, ts: i64) {
        assert_eq!(parse(text), Some(ts), "{text}");
    }

    #[test]
    fn dates_round_trip() {
        case("1970-01-01", 0);
        case("2026-11-28T10:03:47Z", 1_795_860_227);
        case("2000-02-29", 951_782_400);
        case("1795860227", 1_795_860_227);
        assert_eq!(format(1_795_860_227), "2026-11-28T10:03:47Z");
        assert_eq!(format(951_782_400), "2000-02-29T00:00:00Z");
        for ts in [0, 86_399, 1_000_000_000, 4_102_444_800] {
            assert_eq!(parse(&format(ts)), Some(ts));
        }
        assert_eq!(parse("2026-13-01"), None);
        assert_eq!(parse("yesterday"), None);
    }
}
