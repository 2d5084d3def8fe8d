//! `nook list [-q] [--format table|json]`.
use crate::cli::{GlobalOpts, ListArgs, ListFormat};
use anyhow::Result;

pub fn run(g: &GlobalOpts, a: &ListArgs) -> Result<()> {
    let root = super::open_root(g)?;
    let containers: Vec<_> = root
        .list_ids()?
        .iter()
        .filter_map(|id| root.load(id).ok())
        .collect();
    if a.quiet {
        for c in &containers {
            println!("{}", c.state.id);
        }
        return Ok(());
    }
    match a.format {
        ListFormat::Json => {
            let all: Vec<_> = containers
                .iter()
                .map(|c| c.oci_state(&owner_name(c.state.owner_uid)))
                .collect();
            // runc prints `null` for no containers; engines parse either.
            if all.is_empty() {
                println!("null");
            } else {
                println!("{}", serde_json::to_string(&all)?);
            }
        }
        ListFormat::Table => {
            let mut rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
                .map(String::from)
                .to_vec()];
            for c in &containers {
                let s = c.oci_state("");
                rows.push(vec![
                    c.state.id.clone(),
                    s.pid.to_string(),
                    s.status.to_string(),
                    c.state.bundle.display().to_string(),
                    c.state.created.clone(),
                    owner_name(c.state.owner_uid),
                ]);
            }
            print!("{}", table(&rows));
        }
    }
    Ok(())
}

/// Columns as runc's tabwriter lays them out: at least 12 wide, 3 spaces of padding.
fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.first().map(|r| r.len()).unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len() + 3)
                .max()
                .unwrap_or(0)
                .max(12)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == cols {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}", w = widths[i]));
            }
        }
        out.push('\n');
    }
    out
}

fn owner_name(uid: u32) -> String {
    match nix::unistd::User::from_uid(uid.into()) {
        Ok(Some(u)) => u.name,
        _ => format!("#{uid}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_matches_runc_layout() {
        let rows = vec![
            ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
                .map(String::from)
                .to_vec(),
            [
                "t1",
                "6126",
                "created",
                "/tmp/rref",
                "2026-11-22T03:13:23.178276628Z",
                "root",
            ]
            .map(String::from)
            .to_vec(),
        ];
        let t = super::table(&rows);
        assert_eq!(t, "ID          PID         STATUS      BUNDLE      CREATED                          OWNER\nt1          6126        created     /tmp/rref   2026-11-22T03:13:23.178276628Z   root\n");
    }
}
