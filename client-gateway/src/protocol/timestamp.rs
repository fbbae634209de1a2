//! RFC 3339 timestamps, checked without a date library.
//!
//! Client timestamps are informational ("at best approximate": ordering
//! comes from offsets), but they are stored with each message and shown to
//! other clients, so a garbage string is refused at the door rather than
//! passed on. The server writes its own timestamps (`appendedAt`,
//! `expiresAt`) in UTC with milliseconds via [`Timestamp::from_unix_millis`].

use std::fmt;

use serde::{Deserialize, Serialize};

use super::limits::MAX_TIMESTAMP_CHARS;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("is not an RFC 3339 date-time like 2024-05-01T12:00:00Z: {0}")]
pub struct TimestampError(&'static str);

/// A syntactically valid RFC 3339 `date-time`, kept as sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Timestamp(String);

impl Timestamp {
    /// Checks `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` with real calendar
    /// ranges (leap years; second 60 for a leap second).
    pub fn parse(s: impl Into<String>) -> Result<Self, TimestampError> {
        let s = s.into();
        check(&s)?;
        Ok(Self(s))
    }

    /// The UTC time `ms` milliseconds after the Unix epoch, as
    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`. Saturates at the end of year 9999.
    pub fn from_unix_millis(ms: u64) -> Self {
        // 10000-01-01T00:00:00Z in milliseconds.
        const LIMIT_MS: u64 = 253_402_300_800_000;
        let ms = ms.min(LIMIT_MS - 1);
        let (secs, millis) = (ms / 1000, ms % 1000);
        let (days, rem) = (secs / 86_400, secs % 86_400);
        let (y, m, d) = civil_from_days(days);
        Self(format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z", rem / 3600, rem / 60 % 60, rem % 60))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Timestamp {
    type Error = TimestampError;
    fn try_from(s: String) -> Result<Self, TimestampError> {
        Self::parse(s)
    }
}

impl From<Timestamp> for String {
    fn from(t: Timestamp) -> String {
        t.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Days since 1970-01-01 to (year, month, day); Howard Hinnant's algorithm
/// for the proleptic Gregorian calendar, non-negative days only.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

// `is_multiple_of` is newer (1.87) than the workspace's rust-version (1.85).
#[allow(clippy::manual_is_multiple_of)]
fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A cursor over the ASCII bytes of a candidate timestamp.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize, what: &'static str) -> Result<u32, TimestampError> {
        let mut v = 0u32;
        for _ in 0..n {
            match self.bytes.get(self.at) {
                Some(b) if b.is_ascii_digit() => v = v * 10 + u32::from(b - b'0'),
                _ => return Err(TimestampError(what)),
            }
            self.at += 1;
        }
        Ok(v)
    }

    fn expect(&mut self, options: &[u8], what: &'static str) -> Result<u8, TimestampError> {
        match self.bytes.get(self.at) {
            Some(b) if options.contains(b) => {
                self.at += 1;
                Ok(*b)
            }
            _ => Err(TimestampError(what)),
        }
    }
}

fn check(s: &str) -> Result<(), TimestampError> {
    if s.len() > MAX_TIMESTAMP_CHARS {
        return Err(TimestampError("too long"));
    }
    let mut c = Cursor { bytes: s.as_bytes(), at: 0 };
    let year = c.digits(4, "year")?;
    c.expect(b"-", "'-' after the year")?;
    let month = c.digits(2, "month")?;
    c.expect(b"-", "'-' after the month")?;
    let day = c.digits(2, "day")?;
    if !(1..=12).contains(&month) {
        return Err(TimestampError("month out of range"));
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err(TimestampError("day out of range"));
    }
    c.expect(b"Tt", "'T' between date and time")?;
    let hour = c.digits(2, "hour")?;
    c.expect(b":", "':' after the hour")?;
    let minute = c.digits(2, "minute")?;
    c.expect(b":", "':' after the minute")?;
    let second = c.digits(2, "second")?;
    if hour > 23 || minute > 59 || second > 60 {
        return Err(TimestampError("time out of range"));
    }
    if c.expect(b".", "").is_ok() {
        let start = c.at;
        while c.bytes.get(c.at).is_some_and(u8::is_ascii_digit) {
            c.at += 1;
        }
        if c.at == start {
            return Err(TimestampError("digits after '.'"));
        }
    }
    if c.expect(b"+-", "").is_ok() {
        let oh = c.digits(2, "offset hour")?;
        c.expect(b":", "':' in the offset")?;
        let om = c.digits(2, "offset minute")?;
        if oh > 23 || om > 59 {
            return Err(TimestampError("offset out of range"));
        }
    } else {
        c.expect(b"Zz", "'Z' or an offset like +02:00")?;
    }
    if c.at != c.bytes.len() {
        return Err(TimestampError("trailing characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_rfc3339_forms() {
        for ok in [
            "2024-05-01T12:00:00Z",
            "2024-05-01T12:00:00.123Z",
            "2024-05-01T12:00:00.123456789Z",
            "2024-05-01t12:00:00z",
            "2024-05-01T12:00:00+02:00",
            "2024-05-01T12:00:00-11:30",
            "2024-02-29T00:00:00Z",
            "2016-12-31T23:59:60Z",
            "2000-02-29T00:00:00Z",
        ] {
            assert!(Timestamp::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_near_misses() {
        for bad in [
            "",
            "2024-05-01",
            "2024-05-01 12:00:00Z",
            "2024-05-01T12:00:00",
            "2024-13-01T12:00:00Z",
            "2023-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-05-01T24:00:00Z",
            "2024-05-01T12:60:00Z",
            "2024-05-01T12:00:00.Z",
            "2024-05-01T12:00:00+0200",
            "2024-05-01T12:00:00Zjunk",
            "２０２４-05-01T12:00:00Z",
            "yesterday",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
        assert!(Timestamp::parse(format!("2024-05-01T12:00:00.{}Z", "1".repeat(100))).is_err());
    }

    #[test]
    fn formats_unix_millis_in_utc() {
        assert_eq!(Timestamp::from_unix_millis(0).as_str(), "1970-01-01T00:00:00.000Z");
        assert_eq!(Timestamp::from_unix_millis(951_782_400_001).as_str(), "2000-02-29T00:00:00.001Z");
        assert_eq!(Timestamp::from_unix_millis(1_714_564_800_123).as_str(), "2024-05-01T12:00:00.123Z");
        assert_eq!(Timestamp::from_unix_millis(u64::MAX).as_str(), "9999-12-31T23:59:59.999Z");
        for ms in [0, 1, 86_399_999, 951_782_400_000, 4_102_444_800_000, u64::MAX] {
            let t = Timestamp::from_unix_millis(ms);
            assert!(Timestamp::parse(t.as_str()).is_ok(), "{t}");
        }
    }
}
