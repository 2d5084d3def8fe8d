//! `run.nook.pipewire` and `run.nook.pulseaudio`: the audio sockets in the
//! private runtime dir.
//!
//! Neither gives isolation between clients of the same user: PipeWire lets
//! a client record as well as play unless the session manager says
//! otherwise, and pipewire-pulse's socket is mode 0777 with no uid check.
use super::Setup;
use anyhow::Result;

pub(super) fn add(setup: &mut Setup<'_>) -> Result<()> {
    if let Some(name) = setup.req.pipewire.clone() {
        let host = setup.host_runtime_dir.join(&name);
        if setup.runtime_dir_socket("run.nook.pipewire", &host, &name)? && name != "pipewire-0" {
            setup.edits.set_env("PIPEWIRE_REMOTE", name);
        }
    }
    if setup.req.pulseaudio {
        let host = setup.host_runtime_dir.join("pulse/native");
        // One file in the runtime dir: the container's pulse/ would have to
        // be a directory inside the tmpfs, which the bind would create
        // anyway; a flat name keeps the tmpfs layout to one level.
        if setup.runtime_dir_socket("run.nook.pulseaudio", &host, "pulse-native")? {
            let path = setup.container_runtime_dir().join("pulse-native");
            setup
                .edits
                .set_env("PULSE_SERVER", format!("unix:{}", path.display()));
        }
    }
    Ok(())
}
