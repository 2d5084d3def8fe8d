//! Container ids: runc's rule, so an id is always a safe single path component.
use anyhow::{bail, Result};

pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 1024
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '.'));
    if !ok {
        bail!("invalid container id format {id:?}: use letters, digits, '_', '+', '-' and '.'");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn ids() {
        assert!(validate_id("abc-1.2_x+y").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", "../x", "x\n"] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }
}
