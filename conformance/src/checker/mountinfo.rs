//! Parse /proc/self/mountinfo (proc(5)) into the fields the probes compare.

pub struct Mount {
    pub mount_point: String,
    /// Per-mount options (field 6), e.g. "rw,nosuid,nodev".
    pub options: Vec<String>,
    /// "shared", "slave", "private" or "unbindable" from the optional fields.
    pub propagation: String,
    pub fstype: String,
    pub source: String,
    /// Per-superblock options (last field), e.g. "rw,size=1024k,mode=755".
    pub super_options: Vec<String>,
}

/// Mount points escape space, tab, newline and backslash as \ooo octal.
fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let oct = std::str::from_utf8(&bytes[i + 1..i + 4]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(oct, 8) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn parse(text: &str) -> Vec<Mount> {
    let mut mounts = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(sep) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        if fields.len() < sep + 4 || sep < 6 {
            continue;
        }
        let optional = &fields[6..sep];
        let propagation = if optional.iter().any(|f| f.starts_with("shared:")) {
            "shared"
        } else if optional.iter().any(|f| f.starts_with("master:")) {
            "slave"
        } else if optional.contains(&"unbindable") {
            "unbindable"
        } else {
            "private"
        };
        mounts.push(Mount {
            mount_point: unescape(fields[4]),
            options: fields[5].split(',').map(String::from).collect(),
            propagation: propagation.to_string(),
            fstype: fields[sep + 1].to_string(),
            source: unescape(fields[sep + 2]),
            super_options: fields[sep + 3].split(',').map(String::from).collect(),
        });
    }
    mounts
}

/// The mount visible at `path`: the last one listed for that mount point.
pub fn find(path: &str) -> Result<Mount, String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("read /proc/self/mountinfo: {e}"))?;
    parse(&text)
        .into_iter()
        .rev()
        .find(|m| m.mount_point == path)
        .ok_or_else(|| format!("no mount at {path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_optional_fields_and_escapes() {
        let text = "36 35 98:0 /mnt1 /mnt\\040x rw,noatime master:1 shared:3 - ext3 /dev/root rw,errors=continue\n\
                    37 35 0:5 / /dev rw,nosuid - tmpfs tmpfs rw,mode=755\n";
        let m = parse(text);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].mount_point, "/mnt x");
        assert_eq!(m[0].propagation, "shared");
        assert_eq!(m[0].fstype, "ext3");
        assert_eq!(m[1].propagation, "private");
        assert!(m[1].super_options.contains(&"mode=755".to_string()));
    }
}
