//! The SASL handshake that opens a D-Bus connection: `AUTH EXTERNAL` with
//! our uid (the server checks it against SO_PEERCRED), then `BEGIN`.

use anyhow::{bail, Context, Result};
use std::io::{Read, Write};

/// The uid as the EXTERNAL mechanism wants it: its decimal digits, hex-encoded
/// (uid 0 → "30", uid 1000 → "31303030").
pub fn external_identity(uid: u32) -> String {
    uid.to_string()
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Authenticate on a freshly connected `stream`.
pub fn authenticate(stream: &mut (impl Read + Write), uid: u32) -> Result<()> {
    // The first byte must be NUL (it may carry credentials on some systems).
    let hello = format!("\0AUTH EXTERNAL {}\r\n", external_identity(uid));
    stream
        .write_all(hello.as_bytes())
        .context("sending D-Bus AUTH")?;
    let reply = read_line(stream)?;
    if !reply.starts_with("OK ") {
        bail!("D-Bus server refused AUTH EXTERNAL for uid {uid}: {reply:?}");
    }
    stream
        .write_all(b"BEGIN\r\n")
        .context("sending D-Bus BEGIN")?;
    Ok(())
}

/// One `\r\n`-terminated line, read a byte at a time so nothing after it is
/// consumed (the binary protocol follows on the same stream).
fn read_line(stream: &mut impl Read) -> Result<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        if line.len() > 512 {
            bail!("D-Bus server sent an overlong auth line");
        }
        let n = stream
            .read(&mut byte)
            .context("reading the D-Bus auth reply")?;
        if n == 0 {
            bail!("D-Bus server closed the connection during auth");
        }
        line.push(byte[0]);
    }
    line.truncate(line.len() - 2);
    Ok(String::from_utf8_lossy(&line).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_is_hex_of_its_decimal_digits() {
        assert_eq!(external_identity(0), "30");
        assert_eq!(external_identity(1000), "31303030");
    }

    /// A fake server: what it will send, and what the client wrote.
    struct Fake {
        input: std::io::Cursor<Vec<u8>>,
        output: Vec<u8>,
    }
    impl Read for Fake {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.input.read(buf)
        }
    }
    impl Write for Fake {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.output.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn handshake_sends_auth_and_begin() {
        let mut fake = Fake {
            input: std::io::Cursor::new(b"OK 1234deadbeef\r\nextra".to_vec()),
            output: Vec::new(),
        };
        authenticate(&mut fake, 1000).unwrap();
        assert_eq!(fake.output, b"\0AUTH EXTERNAL 31303030\r\nBEGIN\r\n");
        // Nothing after the line was consumed.
        assert_eq!(fake.input.position(), 17);
    }

    #[test]
    fn rejection_is_an_error() {
        let mut fake = Fake {
            input: std::io::Cursor::new(b"REJECTED EXTERNAL\r\n".to_vec()),
            output: Vec::new(),
        };
        let err = authenticate(&mut fake, 0).unwrap_err().to_string();
        assert!(err.contains("REJECTED"), "{err}");
    }
}
