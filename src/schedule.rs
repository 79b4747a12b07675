//! When the daemon runs a pass: a cron expression evaluated in a time zone.
//!
//! Accepts the crontab form admins know (5 fields, day of week 0-7 with 0 and 7 = Sunday),
//! the same with a seconds field first (6 fields) and a year last (7 fields), and
//! `@hourly`/`@daily`/`@weekly`/`@monthly`/`@yearly`. Every form numbers the days of the week
//! as crontab does, and, as in cron(8), a line that restricts both the day of the month and
//! the day of the week runs on either. The cron crate numbers Sunday 1; the conversion is here.
//! Pure: it takes times, it reads no clock.

use std::str::FromStr;

use chrono::{Local, TimeZone, Utc};

use crate::zone::NamedZone;

/// The time zone a schedule is read in.
#[derive(Debug, Clone, PartialEq)]
pub enum Zone {
    /// The machine's local time.
    Local,
    /// A named IANA zone (`Europe/Berlin`).
    Named(NamedZone),
}

/// A parsed schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The expression as written.
    pub text: String,
    /// One schedule, or two whose runs are merged (day of month OR day of week).
    inner: Vec<cron::Schedule>,
    zone: Zone,
}

impl Zone {
    /// Parses an IANA zone name; `None` or `local` is the machine's local time.
    pub fn parse(name: Option<&str>) -> Result<Zone, String> {
        match name {
            None | Some("local") => Ok(Zone::Local),
            Some(name) => NamedZone::load(name).map(Zone::Named),
        }
    }
}

/// Turns a crontab line (5 fields, or 6 with seconds first, or 7 with a year last; day of
/// week 0-7 with Sunday 0 or 7) into the cron crate's form (seconds first, day of week 1-7
/// with Sunday 1). `@` forms pass through. A line restricting both days becomes two: cron(8)
/// runs it when either matches, where the crate would want both (a field starting with `*`
/// counts as unrestricted, as in cron).
fn to_crate_form(expr: &str) -> Result<Vec<String>, String> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    if expr.trim_start().starts_with('@') {
        return Ok(vec![fields.join(" ")]);
    }
    let (seconds, rest, year) = match fields.len() {
        5 => ("0", &fields[..], None),
        6 => (fields[0], &fields[1..], None),
        7 => (fields[0], &fields[1..6], Some(fields[6])),
        n => {
            return Err(format!(
                "cron expression `{expr}` has {n} fields: give 5 (minute hour day month weekday), 6 (seconds first) or 7 (a year last)"
            ));
        }
    };
    let dow = rest[4]
        .split(',')
        .map(convert_dow_item)
        .collect::<Result<Vec<_>, _>>()?
        .join(",");
    let year = year.map(|y| format!(" {y}")).unwrap_or_default();
    let line = |dom: &str, dow: &str| {
        format!(
            "{seconds} {} {} {dom} {} {dow}{year}",
            rest[0], rest[1], rest[3]
        )
    };
    if rest[2].starts_with('*') || rest[4].starts_with('*') {
        Ok(vec![line(rest[2], &dow)])
    } else {
        Ok(vec![line(rest[2], "*"), line("*", &dow)])
    }
}

/// One item of a crontab day-of-week list: `n`, `a-b`, `a-b/s`, `*`, `*/s` or a name.
fn convert_dow_item(item: &str) -> Result<String, String> {
    let (range, step) = match item.split_once('/') {
        Some((r, s)) => (r, Some(s)),
        None => (item, None),
    };
    let step = step.map(|s| format!("/{s}")).unwrap_or_default();
    let num = |t: &str| -> Option<u8> { t.parse::<u8>().ok() };
    let shift = |n: u8| -> Result<u8, String> {
        match n {
            0..=7 => Ok(n % 7 + 1),
            _ => Err(format!("day of week `{n}` must be 0-7")),
        }
    };
    match range.split_once('-') {
        Some((a, b)) if num(a).is_some() && num(b).is_some() => {
            let (a, b) = (num(a).unwrap_or(0), num(b).unwrap_or(0));
            if a == 0 && b == 7 {
                // Sunday to Sunday: every day.
                Ok(format!("1-7{step}"))
            } else if b == 7 && step.is_empty() {
                // a-7 runs through Sunday: a+1..7 in the crate's numbering, plus 1 (Sunday).
                Ok(format!("{}-7,1", shift(a)?))
            } else {
                Ok(format!("{}-{}{step}", shift(a)?, shift(b)?))
            }
        }
        None if num(range).is_some() => Ok(format!("{}{step}", shift(num(range).unwrap_or(0))?)),
        _ => Ok(item.to_string()),
    }
}

impl Schedule {
    /// Parses `expr`, read in `zone`.
    pub fn parse(expr: &str, zone: Zone) -> Result<Schedule, String> {
        let inner = to_crate_form(expr)?
            .iter()
            .map(|form| cron::Schedule::from_str(form))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("cron expression `{expr}`: {e}"))?;
        Ok(Schedule {
            text: expr.to_string(),
            inner,
            zone,
        })
    }

    /// The first run strictly after `after` (Unix seconds), in Unix seconds.
    pub fn next_after(&self, after: i64) -> Option<i64> {
        let utc = Utc.timestamp_opt(after, 0).single()?;
        self.inner
            .iter()
            .filter_map(|schedule| match &self.zone {
                Zone::Local => schedule
                    .after(&utc.with_timezone(&Local))
                    .next()
                    .map(|t| t.timestamp()),
                Zone::Named(tz) => schedule
                    .after(&utc.with_timezone(tz))
                    .next()
                    .map(|t| t.timestamp()),
            })
            .min()
    }

    /// The next `count` runs after `after`, as local times with their offset.
    pub fn upcoming(&self, after: i64, count: usize) -> Vec<String> {
        let mut out = Vec::with_capacity(count);
        let mut t = after;
        while out.len() < count {
            let Some(next) = self.next_after(t) else {
                break;
            };
            out.push(self.show(next));
            t = next;
        }
        out
    }

    /// A time in the schedule's zone, e.g. `2026-11-29 06:00:00 +01:00 (Europe/Berlin)`.
    pub fn show(&self, ts: i64) -> String {
        let Some(utc) = Utc.timestamp_opt(ts, 0).single() else {
            return ts.to_string();
        };
        match &self.zone {
            Zone::Local => format!(
                "{} (local)",
                utc.with_timezone(&Local).format("%Y-%m-%d %H:%M:%S %:z")
            ),
            Zone::Named(tz) => format!(
                "{} ({tz})",
                utc.with_timezone(tz).format("%Y-%m-%d %H:%M:%S %:z")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> i64 {
        crate::clock::parse(text).expect("time")
    }

    fn named(tz: &str) -> Zone {
        Zone::parse(Some(tz)).expect("zone")
    }

    #[track_caller]
    fn next(expr: &str, zone: &Zone, after: &str) -> String {
        let schedule = Schedule::parse(expr, zone.clone()).expect(expr);
        crate::clock::format(schedule.next_after(at(after)).expect("a next run"))
    }

    #[test]
    fn crontab_five_fields_and_the_crates_six() {
        let utc = &named("UTC");
        assert_eq!(
            next("0 6 * * *", utc, "2026-11-28T10:00:00Z"),
            "2026-11-29T06:00:00Z"
        );
        assert_eq!(
            next("0 0 6 * * *", utc, "2026-11-28T10:00:00Z"),
            "2026-11-29T06:00:00Z"
        );
        assert_eq!(
            next("*/15 * * * *", utc, "2026-11-28T10:07:00Z"),
            "2026-11-28T10:15:00Z"
        );
        assert_eq!(
            next("@daily", utc, "2026-11-28T10:00:00Z"),
            "2026-11-29T00:00:00Z"
        );
        assert_eq!(
            next("@hourly", utc, "2026-11-28T10:00:00Z"),
            "2026-11-28T11:00:00Z"
        );
    }

    #[test]
    fn crontab_days_of_week_are_sunday_0_or_7() {
        let utc = &named("UTC");
        // 2026-11-28 is a Saturday.
        assert_eq!(
            next("0 6 * * 0", utc, "2026-11-28T10:00:00Z"),
            "2026-11-29T06:00:00Z"
        );
        assert_eq!(
            next("0 6 * * 7", utc, "2026-11-28T10:00:00Z"),
            "2026-11-29T06:00:00Z"
        );
        assert_eq!(
            next("0 6 * * 1", utc, "2026-11-28T10:00:00Z"),
            "2026-11-30T06:00:00Z"
        );
        assert_eq!(
            next("0 6 * * 1-5", utc, "2026-11-28T10:00:00Z"),
            "2026-11-30T06:00:00Z"
        );
        assert_eq!(
            next("0 6 * * 5-7", utc, "2026-11-28T10:00:00Z"),
            "2026-11-29T06:00:00Z"
        );
        assert_eq!(
            next("0 6 * * MON", utc, "2026-11-28T10:00:00Z"),
            "2026-11-30T06:00:00Z"
        );
        assert_eq!(
            next("0 6 * * 0-7", utc, "2026-11-28T10:00:00Z"),
            "2026-11-29T06:00:00Z"
        );
        assert!(Schedule::parse("0 6 * * 8", utc.clone()).is_err());
        // With seconds first, the days are numbered as in crontab too: 0 is Sunday.
        assert_eq!(
            next("0 0 6 * * 0", utc, "2026-11-28T10:00:00Z"),
            "2026-11-29T06:00:00Z"
        );
        assert_eq!(
            next("0 0 6 * * 1", utc, "2026-11-28T10:00:00Z"),
            "2026-11-30T06:00:00Z"
        );
        assert_eq!(
            next("30 0 6 * * 7 2026", utc, "2026-11-28T10:00:00Z"),
            "2026-11-29T06:00:30Z"
        );
        assert!(Schedule::parse("0 6 * *", utc.clone()).is_err());
        assert!(Schedule::parse("every day", utc.clone()).is_err());
    }

    #[test]
    fn a_day_of_the_month_or_a_day_of_the_week_as_cron_reads_them() {
        let utc = &named("UTC");
        // On the 1st and on Mondays, as cron(8) runs it; 2026-11-28 is a Saturday.
        assert_eq!(
            next("0 6 1 * 1", utc, "2026-11-28T10:00:00Z"),
            "2026-11-30T06:00:00Z"
        );
        assert_eq!(
            next("0 6 1 * 1", utc, "2026-11-30T10:00:00Z"),
            "2026-12-01T06:00:00Z"
        );
        // A day field starting with `*` leaves the other alone: Mondays among days 1-31/2.
        assert_eq!(
            next("0 6 */2 * 1", utc, "2026-11-28T10:00:00Z"),
            "2026-12-07T06:00:00Z"
        );
    }

    #[test]
    fn time_zones_and_daylight_saving() {
        let berlin = &named("Europe/Berlin");
        // 06:00 in Berlin is 05:00 UTC in winter and 04:00 UTC in summer.
        assert_eq!(
            next("0 6 * * *", berlin, "2026-11-28T10:00:00Z"),
            "2026-11-29T05:00:00Z"
        );
        assert_eq!(
            next("0 6 * * *", berlin, "2026-07-01T10:00:00Z"),
            "2026-07-02T04:00:00Z"
        );
        // Across the spring change (2026-03-29, 02:00 -> 03:00): 06:00 local stays 06:00 local.
        assert_eq!(
            next("0 6 * * *", berlin, "2026-03-28T10:00:00Z"),
            "2026-03-29T04:00:00Z"
        );
        // 02:30 does not exist on 2026-03-29 in Berlin: that day is skipped, not run at a wrong hour.
        assert_eq!(
            next("30 2 * * *", berlin, "2026-03-28T10:00:00Z"),
            "2026-03-30T00:30:00Z"
        );
        let schedule = Schedule::parse("0 6 * * *", berlin.clone()).expect("schedule");
        assert_eq!(
            schedule.show(at("2026-11-29T05:00:00Z")),
            "2026-11-29 06:00:00 +01:00 (Europe/Berlin)"
        );
        assert!(Zone::parse(Some("Mars/Olympus")).is_err());
    }
}
