//! The systemd D-Bus calls the driver makes (org.freedesktop.systemd1.Manager),
//! each waiting for its job to finish.

use super::properties::Property;
use crate::dbus::{is_bus_error, Connection, SignalMatch, Value};
use anyhow::{bail, Context, Result};
use std::time::Duration;

const SYSTEMD: &str = "org.freedesktop.systemd1";
const SYSTEMD_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";

/// How long systemd may take to start or stop a unit (runc waits 30 s).
const JOB_TIMEOUT: Duration = Duration::from_secs(30);

/// A connection to systemd with the JobRemoved signal routed to us.
pub struct Systemd {
    conn: Connection,
}

fn job_removed() -> SignalMatch {
    SignalMatch {
        sender: Some(SYSTEMD.into()),
        interface: MANAGER.into(),
        member: "JobRemoved".into(),
        path: Some(SYSTEMD_PATH.into()),
    }
}

/// `properties` as the `a(sv)` systemd takes.
fn property_array(properties: &[Property]) -> Value {
    Value::array(
        "(sv)",
        properties
            .iter()
            .map(|(name, value)| {
                Value::Struct(vec![Value::str(name), Value::variant(value.clone())])
            })
            .collect(),
    )
}

impl Systemd {
    /// Connect to the bus at `address` (the system bus, or the user's bus
    /// for a rootless driver) and subscribe to job results.
    pub fn connect(address: &str) -> Result<Systemd> {
        let mut conn = Connection::connect(address)?;
        // The match must exist before a job starts, or its end could be missed.
        conn.add_match(&job_removed())?;
        Ok(Systemd { conn })
    }

    fn call(&mut self, member: &str, body: Vec<Value>) -> Result<Vec<Value>> {
        self.conn.call(SYSTEMD, SYSTEMD_PATH, MANAGER, member, body)
    }

    /// The job object path a method returned.
    fn job_path(reply: &[Value], what: &str) -> Result<String> {
        match reply.first().and_then(Value::as_str) {
            Some(path) => Ok(path.to_string()),
            None => bail!("systemd's reply to {what} holds no job path"),
        }
    }

    /// Wait for JobRemoved of `job`; returns its result ("done", "failed", ...).
    fn wait_job(&mut self, job: &str) -> Result<String> {
        let signal = self
            .conn
            .wait_for_signal(&job_removed(), JOB_TIMEOUT, |m| {
                m.body.get(1).and_then(Value::as_str) == Some(job)
            })
            .with_context(|| format!("waiting for systemd job {job}"))?;
        Ok(signal
            .body
            .get(3)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string())
    }

    /// StartTransientUnit(`unit`, "replace", `properties`) and wait until it
    /// is started. A leftover unit of the same name (e.g. a failed one) is
    /// reset and the start retried once, as runc does.
    pub fn start_transient_unit(&mut self, unit: &str, properties: &[Property]) -> Result<()> {
        let body = || {
            vec![
                Value::str(unit),
                Value::str("replace"),
                property_array(properties),
                Value::array("(sa(sv))", vec![]),
            ]
        };
        let reply = match self.call("StartTransientUnit", body()) {
            Err(e) if is_bus_error(&e, "org.freedesktop.systemd1.UnitExists") => {
                self.reset_failed_unit(unit);
                self.call("StartTransientUnit", body()).with_context(|| {
                    format!("systemd unit {unit} already exists: is another container using the same cgroupsPath? (`systemctl stop {unit}` removes a leftover)")
                })?
            }
            other => other.with_context(|| format!("creating systemd unit {unit}"))?,
        };
        let job = Self::job_path(&reply, "StartTransientUnit")?;
        let result = self.wait_job(&job)?;
        if result != "done" {
            self.reset_failed_unit(unit);
            bail!("creating systemd unit {unit}: the job ended with {result:?} (see `journalctl -u {unit}`)");
        }
        Ok(())
    }

    /// SetUnitProperties(`unit`, runtime=true, `properties`).
    pub fn set_unit_properties(&mut self, unit: &str, properties: &[Property]) -> Result<()> {
        self.call(
            "SetUnitProperties",
            vec![
                Value::str(unit),
                Value::Bool(true),
                property_array(properties),
            ],
        )
        .with_context(|| format!("setting properties of systemd unit {unit}"))?;
        Ok(())
    }

    /// StopUnit(`unit`, "replace") and wait for it; a unit that is already
    /// gone (systemd drops a scope once its processes are gone) is fine.
    pub fn stop_unit(&mut self, unit: &str) -> Result<()> {
        let reply = match self.call("StopUnit", vec![Value::str(unit), Value::str("replace")]) {
            Err(e) if is_bus_error(&e, "org.freedesktop.systemd1.NoSuchUnit") => return Ok(()),
            other => other.with_context(|| format!("stopping systemd unit {unit}"))?,
        };
        let job = Self::job_path(&reply, "StopUnit")?;
        let result = self.wait_job(&job)?;
        if result != "done" {
            bail!("stopping systemd unit {unit}: the job ended with {result:?}");
        }
        Ok(())
    }

    /// ResetFailedUnit, so a failed unit does not linger; errors are ignored
    /// (the unit is usually not failed, or already gone).
    pub fn reset_failed_unit(&mut self, unit: &str) {
        let _ = self.call("ResetFailedUnit", vec![Value::str(unit)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_are_sent_as_a_sv() {
        let props = vec![
            ("TasksMax".to_string(), Value::Uint64(20)),
            ("Delegate".to_string(), Value::Bool(true)),
        ];
        let array = property_array(&props);
        assert_eq!(array.signature(), "a(sv)");
        assert_eq!(
            array,
            Value::array(
                "(sv)",
                vec![
                    Value::Struct(vec![
                        Value::str("TasksMax"),
                        Value::variant(Value::Uint64(20))
                    ]),
                    Value::Struct(vec![
                        Value::str("Delegate"),
                        Value::variant(Value::Bool(true))
                    ]),
                ]
            )
        );
    }

    #[test]
    fn job_removed_match_is_systemds_manager_signal() {
        assert_eq!(
            job_removed().rule(),
            "type='signal',interface='org.freedesktop.systemd1.Manager',member='JobRemoved',sender='org.freedesktop.systemd1',path='/org/freedesktop/systemd1'"
        );
    }
}
