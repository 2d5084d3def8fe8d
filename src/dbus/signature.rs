//! Splitting D-Bus type signatures into single complete types.

use anyhow::{bail, Result};

/// The basic type codes this client supports.
const BASIC: &str = "ybnqiuxtdsog";

/// Split `signature` into its single complete types (`"sa(sv)u"` →
/// `["s", "a(sv)", "u"]`).
pub fn split(signature: &str) -> Result<Vec<&str>> {
    let mut types = Vec::new();
    let mut rest = signature;
    while !rest.is_empty() {
        let len = complete_type_len(rest, 0)?;
        types.push(&rest[..len]);
        rest = &rest[len..];
    }
    Ok(types)
}

/// The length of the single complete type at the start of `s`.
/// `depth` bounds nesting (the spec allows 32 levels of each kind; 64 total
/// is plenty here and keeps recursion bounded on hostile input).
fn complete_type_len(s: &str, depth: usize) -> Result<usize> {
    if depth > 64 {
        bail!("signature {s:?} nests too deeply");
    }
    let Some(first) = s.chars().next() else {
        bail!("signature ends inside a type");
    };
    match first {
        c if BASIC.contains(c) || c == 'v' => Ok(1),
        'a' => Ok(1 + complete_type_len(&s[1..], depth + 1)?),
        '(' => {
            let mut at = 1;
            while !s[at..].starts_with(')') {
                if at >= s.len() {
                    bail!("signature {s:?}: unclosed '('");
                }
                at += complete_type_len(&s[at..], depth + 1)?;
            }
            if at == 1 {
                bail!("signature {s:?}: empty struct");
            }
            Ok(at + 1)
        }
        '{' => {
            let key = s[1..].chars().next();
            if !key.is_some_and(|k| BASIC.contains(k)) {
                bail!("signature {s:?}: dict entry key must be a basic type");
            }
            let value_len = complete_type_len(&s[2..], depth + 1)?;
            if !s[2 + value_len..].starts_with('}') {
                bail!("signature {s:?}: dict entry must hold exactly two types");
            }
            Ok(3 + value_len)
        }
        other => bail!("signature {s:?}: unsupported type code {other:?}"),
    }
}

/// The alignment of values of the type starting with `code`.
pub fn alignment(code: u8) -> usize {
    match code {
        b'y' | b'g' | b'v' => 1,
        b'n' | b'q' => 2,
        b'b' | b'i' | b'u' | b's' | b'o' | b'a' => 4,
        _ => 8, // x t d ( {
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_complete_types() {
        assert_eq!(
            split("sa(sv)a{sv}uv").unwrap(),
            vec!["s", "a(sv)", "a{sv}", "u", "v"]
        );
        assert_eq!(split("a(sa(sv))").unwrap(), vec!["a(sa(sv))"]);
        assert!(split("").unwrap().is_empty());
    }

    #[test]
    fn rejects_bad_signatures() {
        for bad in ["a", "(s", "()", "{vs}", "{sss}", "h", "z", "((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((s))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))"] {
            assert!(split(bad).is_err(), "{bad}");
        }
    }
}
