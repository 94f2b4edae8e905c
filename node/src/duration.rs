//! Human durations for lifetimes on the command line and in configuration: `90s`, `15m`,
//! `12h`, `30d`, `2y`.

use std::fmt;
use std::str::FromStr;

/// A whole number of seconds, written with a unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Lifetime(pub u64);

/// A duration could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {0:?}: write a whole number and a unit, s, m, h, d or y (e.g. 30d)")]
pub struct LifetimeError(String);

impl Lifetime {
    /// The duration in seconds.
    pub fn secs(self) -> u64 {
        self.0
    }
}

impl FromStr for Lifetime {
    type Err = LifetimeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || LifetimeError(s.to_owned());
        let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(err)?;
        let (number, unit) = s.split_at(split);
        let number: u64 = number.parse().map_err(|_| err())?;
        let scale = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            // A year of 365 days: lifetimes are policy, not calendar arithmetic.
            "y" => 365 * 86_400,
            _ => return Err(err()),
        };
        let secs = number.checked_mul(scale).ok_or_else(err)?;
        if secs == 0 {
            return Err(err());
        }
        Ok(Lifetime(secs))
    }
}

impl fmt::Display for Lifetime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, scale) in [("y", 365 * 86_400), ("d", 86_400), ("h", 3_600), ("m", 60)] {
            if self.0.is_multiple_of(scale) {
                return write!(f, "{}{unit}", self.0 / scale);
            }
        }
        write!(f, "{}s", self.0)
    }
}

impl serde::Serialize for Lifetime {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Lifetime {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_scale_and_print_back() {
        for (text, secs) in [
            ("90s", 90),
            ("15m", 900),
            ("12h", 43_200),
            ("30d", 2_592_000),
        ] {
            let lifetime: Lifetime = text.parse().expect("valid");
            assert_eq!(lifetime.secs(), secs);
            assert_eq!(lifetime.to_string(), text);
        }
        assert_eq!("2y".parse::<Lifetime>().map(Lifetime::secs), Ok(63_072_000));
    }

    #[test]
    fn nonsense_zero_and_overflow_are_refused() {
        for text in [
            "",
            "d",
            "30",
            "30 d",
            "-1d",
            "1.5h",
            "0s",
            "30w",
            "99999999999999999999y",
        ] {
            assert!(text.parse::<Lifetime>().is_err(), "{text:?} accepted");
        }
    }
}

/// Formats seconds since the UNIX epoch as an RFC 3339 UTC timestamp.
pub fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01, by the era method: 400-year
/// eras of 146,097 days, with years starting in March so leap days fall at the end.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod time_tests {
    use super::rfc3339;

    #[test]
    fn timestamps_format_as_utc_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_767_225_599), "2025-12-31T23:59:59Z");
        assert_eq!(rfc3339(4_107_542_400), "2100-03-01T00:00:00Z");
    }
}
