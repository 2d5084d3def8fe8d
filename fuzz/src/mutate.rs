//! A JSON-aware mutator for config.json. The fuzz input is not JSON: it is a
//! stream of choices (which seed, which node, which mutation, which value),
//! so every input gives a config close to a valid one, and libFuzzer's
//! coverage feedback steers the choices.
//!
//! Mutations: change a value's type, remove a key or element, duplicate a
//! key (JSON objects may repeat keys; `serde_json::Value` cannot, hence the
//! own tree below), huge and negative numbers, long strings, odd Unicode and
//! invalid UTF-8, deep nesting (up to 100 000 levels), known spec field
//! names with odd values, and subtrees copied elsewhere.

use serde_json::Value;

/// The valid configs mutations start from: the upstream schema samples and
/// nook's own `spec` output (rootful and rootless). Parsed once per process.
fn seeds() -> &'static [Value] {
    static SEEDS: std::sync::OnceLock<Vec<Value>> = std::sync::OnceLock::new();
    SEEDS.get_or_init(parse_seeds)
}

fn parse_seeds() -> Vec<Value> {
    const SAMPLES: &[&str] = &[
        include_str!(
            "../../integration/data/runtime-spec-schema-test/config/good/spec-example.json"
        ),
        include_str!(
            "../../integration/data/runtime-spec-schema-test/config/good/minimal-for-start.json"
        ),
        include_str!("../../integration/data/runtime-spec-schema-test/config/good/linux-rdma.json"),
        include_str!(
            "../../integration/data/runtime-spec-schema-test/config/good/linux-netdevice.json"
        ),
        include_str!(
            "../../integration/data/runtime-spec-schema-test/config/good/zos-example.json"
        ),
        include_str!(
            "../../integration/data/runtime-spec-schema-test/config/good/freebsd-example.json"
        ),
    ];
    let mut seeds: Vec<Value> = SAMPLES
        .iter()
        .map(|s| serde_json::from_str(s).expect("the samples are JSON"))
        .collect();
    seeds.push(nook::spec::default_spec(false, 0, 0));
    seeds.push(nook::spec::default_spec(true, 1000, 1000));
    seeds
}

/// A JSON tree that can hold what `serde_json::Value` cannot: repeated keys
/// and arbitrary raw tokens (1e400, lone surrogates, invalid UTF-8).
#[derive(Clone)]
enum Node {
    Raw(Vec<u8>),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

impl Node {
    fn from_value(v: &Value) -> Node {
        match v {
            Value::Array(items) => Node::Array(items.iter().map(Node::from_value).collect()),
            Value::Object(map) => Node::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), Node::from_value(v)))
                    .collect(),
            ),
            scalar => Node::Raw(scalar.to_string().into_bytes()),
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Node::Raw(bytes) => out.extend_from_slice(bytes),
            Node::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    item.write(out);
                }
                out.push(b']');
            }
            Node::Object(fields) => {
                out.push(b'{');
                for (i, (key, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(Value::from(key.as_str()).to_string().as_bytes());
                    out.push(b':');
                    value.write(out);
                }
                out.push(b'}');
            }
        }
    }

    /// Index paths of every node, the root first.
    fn paths(&self, at: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        out.push(at.clone());
        let children: Vec<&Node> = match self {
            Node::Raw(_) => return,
            Node::Array(items) => items.iter().collect(),
            Node::Object(fields) => fields.iter().map(|(_, v)| v).collect(),
        };
        for (i, child) in children.into_iter().enumerate() {
            at.push(i);
            child.paths(at, out);
            at.pop();
        }
    }

    fn at_mut(&mut self, path: &[usize]) -> &mut Node {
        let Some((&first, rest)) = path.split_first() else {
            return self;
        };
        match self {
            Node::Array(items) => items[first].at_mut(rest),
            Node::Object(fields) => fields[first].1.at_mut(rest),
            Node::Raw(_) => unreachable!("paths() gives no children of a scalar"),
        }
    }
}

/// The fuzz input read as choices; zeros once it runs out.
struct Choices<'a> {
    data: &'a [u8],
}

impl Choices<'_> {
    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// A number in 0..n (n > 0).
    fn below(&mut self, n: usize) -> usize {
        let wide = u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()]);
        wide as usize % n
    }

    fn pick<'s, T>(&mut self, from: &'s [T]) -> &'s T {
        &from[self.below(from.len())]
    }
}

const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "-0",
    "1.5",
    "-1.5",
    "1e3",
    "1e400",
    "-1e400",
    "1e-400",
    "255",
    "256",
    "511",
    "512",
    "65535",
    "65536",
    "2147483647",
    "2147483648",
    "-2147483648",
    "-2147483649",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "123456789012345678901234567890",
];

const STRINGS: &[&str] = &[
    "",
    "/",
    ".",
    "..",
    "../..",
    "/../../etc",
    "/proc/self/fd/0",
    "rootfs",
    "a\u{0}b",
    "\u{202e}",
    "🙂",
    "é/ü",
    "\u{ffff}",
    ":",
    "::",
    "a:b:c",
    "system.slice:nook:x",
    "user-1000.slice:nook:x.slice",
    "-.slice",
    "a--b.slice",
    "-",
    "bind",
    "rbind",
    "ro",
    "rw",
    "private",
    "rshared",
    "idmap",
    "ridmap",
    "tmpcopyup",
    "nosuid,nodev",
    "mode=755",
    "size=65536k",
    "RLIMIT_NOFILE",
    "RLIMIT_FOO",
    "CAP_SYS_ADMIN",
    "CAP_FOO",
    "SIGKILL",
    "RTMIN+3",
    "RTMAX-2147483648",
    "uts",
    "user",
    "time",
    "c",
    "b",
    "p",
    "u",
    "a",
    "rwm",
    "MB:0=70",
    "64kB",
    "2MB",
    "0-3,7",
    "0--1",
    "net.ipv4.ip_forward",
    "kernel.msgmax",
    "vm.swappiness",
    "net/../kernel",
    "IOPRIO_CLASS_RT",
    "SCHED_DEADLINE",
    "SCHED_FLAG_RESET_ON_FORK",
    "SCMP_ACT_ERRNO",
    "SCMP_ARCH_X86_64",
    "SCMP_CMP_MASKED_EQ",
    "LINUX32",
    "MPOL_BIND",
    "PATH=/bin",
    "NOEQUALS",
    "1.0.0",
    "1.3.0-rc.1+build",
];

/// config.json field names (config.md, config-linux.md), to insert anywhere.
#[rustfmt::skip]
const KEYS: &[&str] = &[
    "ociVersion", "root", "path", "readonly", "mounts", "destination", "source", "type",
    "options", "uidMappings", "gidMappings", "containerID", "hostID", "size", "process",
    "terminal", "consoleSize", "height", "width", "cwd", "env", "args", "commandLine",
    "rlimits", "soft", "hard", "apparmorProfile", "capabilities", "bounding", "effective",
    "permitted", "inheritable", "ambient", "noNewPrivileges", "oomScoreAdj", "scheduler",
    "policy", "nice", "priority", "flags", "runtime", "deadline", "period", "selinuxLabel",
    "ioPriority", "class", "execCPUAffinity", "initial", "final", "user", "uid", "gid", "umask",
    "additionalGids", "username", "hostname", "domainname", "hooks", "prestart",
    "createRuntime", "createContainer", "startContainer", "poststart", "poststop", "timeout",
    "annotations", "linux", "namespaces", "timeOffsets", "secs", "nanosecs", "devices", "major",
    "minor", "fileMode", "cgroupsPath", "resources", "allow", "access", "memory", "limit",
    "reservation", "swap", "kernel", "kernelTCP", "swappiness", "disableOOMKiller",
    "useHierarchy", "checkBeforeUpdate", "cpu", "shares", "quota", "burst", "realtimeRuntime",
    "realtimePeriod", "cpus", "mems", "idle", "blockIO", "weight", "leafWeight", "weightDevice",
    "throttleReadBpsDevice", "rate", "hugepageLimits", "pageSize", "network", "classID",
    "priorities", "name", "pids", "rdma", "hcaHandles", "hcaObjects", "unified", "intelRdt",
    "closID", "l3CacheSchema", "memBwSchema", "enableMonitoring", "sysctl", "seccomp",
    "defaultAction", "defaultErrnoRet", "architectures", "listenerPath", "listenerMetadata",
    "syscalls", "names", "action", "errnoRet", "index", "value", "valueTwo", "op",
    "rootfsPropagation", "maskedPaths", "readonlyPaths", "mountLabel", "personality", "domain",
    "memoryPolicy", "mode", "nodes", "netDevices",
];

/// A valid seed with `data` applied to it as mutations.
pub fn mutated_config(data: &[u8]) -> Vec<u8> {
    let mut choices = Choices { data };
    let mut tree = Node::from_value(choices.pick(seeds()));
    let rounds = 1 + choices.byte() % 8;
    for _ in 0..rounds {
        mutate(&mut tree, &mut choices);
    }
    let mut out = Vec::new();
    tree.write(&mut out);
    out
}

fn mutate(tree: &mut Node, choices: &mut Choices) {
    let mut paths = Vec::new();
    tree.paths(&mut Vec::new(), &mut paths);
    let path = choices.pick(&paths).clone();
    let op = choices.byte() % 10;
    // Values taken from elsewhere in the tree, before the borrow below.
    let donor = if op == 8 {
        let from = choices.pick(&paths).clone();
        Some(tree.at_mut(&from).clone())
    } else {
        None
    };
    let node = tree.at_mut(&path);
    match op {
        // A different type.
        0 => {
            *node = match choices.byte() % 6 {
                0 => Node::Raw(b"null".to_vec()),
                1 => Node::Raw(b"true".to_vec()),
                2 => Node::Raw(b"0".to_vec()),
                3 => Node::Raw(b"\"\"".to_vec()),
                4 => Node::Array(Vec::new()),
                _ => Node::Object(Vec::new()),
            }
        }
        // Remove a key or an element.
        1 => match node {
            Node::Array(items) if !items.is_empty() => {
                let i = choices.below(items.len());
                items.remove(i);
            }
            Node::Object(fields) if !fields.is_empty() => {
                let i = choices.below(fields.len());
                fields.remove(i);
            }
            _ => {}
        },
        // Duplicate a key (the same or another value) or an element.
        2 => match node {
            Node::Array(items) if !items.is_empty() => {
                let i = choices.below(items.len());
                items.push(items[i].clone());
            }
            Node::Object(fields) if !fields.is_empty() => {
                let i = choices.below(fields.len());
                let (key, value) = fields[i].clone();
                let value = if choices.byte().is_multiple_of(2) {
                    value
                } else {
                    Node::Raw(choices.pick(NUMBERS).as_bytes().to_vec())
                };
                fields.push((key, value));
            }
            _ => {}
        },
        3 => *node = Node::Raw(choices.pick(NUMBERS).as_bytes().to_vec()),
        4 => *node = Node::Raw(long_string(choices)),
        5 => *node = Node::Raw(odd_unicode(choices)),
        6 => *node = deep_nesting(node.clone(), choices),
        // A spec field name with an odd value, in an object.
        7 => {
            if let Node::Object(fields) = node {
                let key = choices.pick(KEYS).to_string();
                let value = interesting_value(choices);
                fields.push((key, value));
            }
        }
        8 => {
            if let Some(donor) = donor {
                *node = donor;
            }
        }
        _ => *node = Node::Raw(Value::from(*choices.pick(STRINGS)).to_string().into_bytes()),
    }
}

fn interesting_value(choices: &mut Choices) -> Node {
    match choices.byte() % 5 {
        0 => Node::Raw(choices.pick(NUMBERS).as_bytes().to_vec()),
        1 => Node::Raw(Value::from(*choices.pick(STRINGS)).to_string().into_bytes()),
        2 => Node::Array(vec![Node::Raw(
            Value::from(*choices.pick(STRINGS)).to_string().into_bytes(),
        )]),
        3 => Node::Object(vec![(
            choices.pick(KEYS).to_string(),
            Node::Raw(choices.pick(NUMBERS).as_bytes().to_vec()),
        )]),
        _ => Node::Raw(b"null".to_vec()),
    }
}

/// A JSON string of up to 1 MiB of a repeated piece.
fn long_string(choices: &mut Choices) -> Vec<u8> {
    let piece = *choices.pick(&["a", "/", "../", "é", "🙂", "\\u0000", ",", "=", ":"]);
    let len = *choices.pick(&[255usize, 256, 4095, 4096, 65536, 1 << 20]);
    let mut out = b"\"".to_vec();
    while out.len() < len {
        out.extend_from_slice(piece.as_bytes());
    }
    out.push(b'"');
    out
}

/// JSON strings with escapes and bytes that a UTF-8 path or name may not expect.
fn odd_unicode(choices: &mut Choices) -> Vec<u8> {
    const ODD: &[&[u8]] = &[
        b"\"\\ud800\"",
        b"\"\\udc00\\ud800\"",
        b"\"\\u0000\"",
        b"\"/\\u0000/x\"",
        b"\"\xff\xfe\"",
        b"\"\xc3\"",
        b"\"\xed\xa0\x80\"",
        b"\"\\u202e\"",
        b"\"\\uFEFF/\"",
        b"\"\xf0\x9f\x99\x82\"",
        b"\"\\\"\"",
        b"\"\\\\\"",
    ];
    choices.pick(ODD).to_vec()
}

/// `inner` wrapped in up to 100 000 arrays or objects.
fn deep_nesting(inner: Node, choices: &mut Choices) -> Node {
    let depth = *choices.pick(&[2usize, 127, 128, 129, 1000, 100_000]);
    let objects = choices.byte().is_multiple_of(2);
    let mut out = Vec::new();
    for _ in 0..depth {
        out.extend_from_slice(if objects { b"{\"a\":" } else { b"[" });
    }
    inner.write(&mut out);
    for _ in 0..depth {
        out.push(if objects { b'}' } else { b']' });
    }
    Node::Raw(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_choices_turn_the_root_into_null() {
        // Zero choices: the first seed, one round, the root, a type change to null.
        let text = mutated_config(&[]);
        assert_eq!(text, b"null");
    }

    #[test]
    fn duplicate_keys_and_raw_numbers_are_written() {
        let mut tree = Node::Object(vec![("a".into(), Node::Raw(b"1".to_vec()))]);
        if let Node::Object(fields) = &mut tree {
            fields.push(("a".into(), Node::Raw(b"1e400".to_vec())));
        }
        let mut out = Vec::new();
        tree.write(&mut out);
        assert_eq!(out, br#"{"a":1,"a":1e400}"#);
    }

    #[test]
    fn deep_nesting_is_balanced() {
        let mut choices = Choices {
            data: &[5, 0, 0, 0, 1],
        };
        let Node::Raw(out) = deep_nesting(Node::Raw(b"0".to_vec()), &mut choices) else {
            panic!("raw expected");
        };
        assert_eq!(out.len(), 200_001);
        assert_eq!(out.iter().filter(|b| **b == b'[').count(), 100_000);
    }
}
