//! Memory sizes on the `update` command line, as runc accepts them: a
//! number with an optional fraction and binary unit ("512", "1.5m", "100MiB",
//! "2 g", "64kb"), or "-1" for "no limit".

use anyhow::{bail, Result};

/// Parse a size flag value; the error text is runc's ("invalid size: '10x'").
pub fn parse_size(text: &str) -> Result<i64> {
    if text == "-1" {
        return Ok(-1);
    }
    let number_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(number_end);
    if number.is_empty() || !number.starts_with(|c: char| c.is_ascii_digit()) {
        bail!("invalid size: '{text}'");
    }
    let Some(multiplier) = unit_multiplier(unit.strip_prefix(' ').unwrap_or(unit)) else {
        bail!("invalid size: '{text}'");
    };
    let value: f64 = number
        .parse()
        .map_err(|_| anyhow::anyhow!("invalid size: '{text}': {number:?} is not a number"))?;
    let bytes = value * multiplier as f64;
    if !bytes.is_finite() || bytes >= i64::MAX as f64 {
        bail!("invalid size: '{text}': too large");
    }
    Ok(bytes as i64)
}

/// "", "b", "k", "kb", "kib", "m"... (any case): powers of 1024.
fn unit_multiplier(unit: &str) -> Option<i64> {
    let unit = unit.to_ascii_lowercase();
    let mut chars = unit.chars();
    let power = match chars.next() {
        // No unit letter: bytes ("b", and even "i"/"ib", as runc accepts).
        None => return Some(1),
        Some('b') | Some('i') if matches!(unit.as_str(), "b" | "i" | "ib") => return Some(1),
        Some('k') => 1,
        Some('m') => 2,
        Some('g') => 3,
        Some('t') => 4,
        Some('p') => 5,
        Some(_) => return None,
    };
    match chars.as_str() {
        "" | "b" | "i" | "ib" => Some(1024_i64.pow(power)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_like_runc() {
        for (text, want) in [
            ("-1", -1),
            ("0", 0),
            ("512", 512),
            ("100b", 100),
            ("1k", 1024),
            ("1K", 1024),
            ("100KiB", 102_400),
            ("100mb", 100 << 20),
            ("100MiB", 100 << 20),
            ("1.5m", 1_572_864),
            ("2 g", 2 << 30),
            ("1t", 1 << 40),
            ("7 ", 7),
            ("7ib", 7),
        ] {
            assert_eq!(parse_size(text).unwrap(), want, "{text}");
        }
    }

    #[test]
    fn refused_like_runc() {
        for text in [
            "10x",
            "-5",
            "",
            "m",
            "1.2.3m",
            "1kk",
            "1bb",
            ".5m",
            "-1m",
            "99999999999p",
        ] {
            let err = parse_size(text).unwrap_err().to_string();
            assert!(err.starts_with("invalid size: '"), "{text}: {err}");
        }
    }
}
