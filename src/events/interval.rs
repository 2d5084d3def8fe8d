//! `events --interval`: a duration written as Go writes them ("5s", "500ms",
//! "1m30s", "1.5h"), which is what runc accepts.

use anyhow::{bail, Result};
use std::time::Duration;

/// Parse a Go duration; it must be positive (runc's rule for --interval).
pub fn parse_interval(text: &str) -> Result<Duration> {
    let Some(seconds) = go_duration_seconds(text) else {
        bail!("invalid value {text:?} for flag --interval: not a duration (e.g. 5s, 500ms, 1m30s)");
    };
    if seconds <= 0.0 {
        bail!("duration interval must be greater than 0");
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// The value of a Go duration string in seconds; None when malformed.
fn go_duration_seconds(text: &str) -> Option<f64> {
    let (sign, mut rest) = match text.strip_prefix('-') {
        Some(r) => (-1.0, r),
        None => (1.0, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Some(0.0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(number_end);
        if number.is_empty() || number == "." {
            return None;
        }
        let value: f64 = number.parse().ok()?;
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None, // Go needs a unit on every number
        };
        total += value * scale;
        rest = tail;
    }
    Some(sign * total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        for (text, secs) in [
            ("5s", 5.0),
            ("500ms", 0.5),
            ("1m30s", 90.0),
            ("1.5h", 5400.0),
            ("250us", 0.00025),
        ] {
            let got = parse_interval(text).unwrap().as_secs_f64();
            assert!((got - secs).abs() < 1e-9, "{text}: {got}");
        }
    }

    #[test]
    fn refused_like_runc() {
        for text in ["5", "", "s", "1x", "1.2.3s", "abc"] {
            assert!(
                parse_interval(text)
                    .unwrap_err()
                    .to_string()
                    .contains("--interval"),
                "{text}"
            );
        }
        for text in ["0", "0s", "-1s"] {
            assert_eq!(
                parse_interval(text).unwrap_err().to_string(),
                "duration interval must be greater than 0"
            );
        }
    }
}
