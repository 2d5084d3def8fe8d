#!/bin/bash
# Install everything nook's build, tests, benchmarks and man pages need on a
# fresh Debian 12 (bookworm) machine. Run as root. Safe to run again.
#
# Only Debian packages are installed; the Rust toolchain comes from rustup,
# and only when cargo is missing (Debian 12's own cargo is too old for nook's
# dependencies).
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
    echo "$0: run as root (it calls apt-get)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive

packages=(
    # build
    build-essential pkg-config libseccomp-dev git ca-certificates curl
    # root filesystems for tests and the demo
    busybox-static
    # runtimes to compare with, and the engines the integration tests drive
    runc crun podman conmon containerd uidmap
    # Docker 20.10 for the engine_docker test target (the tests start their
    # own dockerd; --no-install-recommends below keeps cgroupfs-mount out)
    docker.io
    # tools the tests and benchmark scripts call (script(1) is in bsdutils,
    # unshare(1)/nsenter(1) in util-linux)
    bsdutils util-linux jq strace iproute2 procps tar
    # the desktop layer's tests (integration/desktop.rs) and its
    # side-by-side with Flatpak's sandbox: a headless session and its clients
    weston dbus dbus-bin dbus-tests xdg-dbus-proxy pipewire pipewire-pulse
    wireplumber pulseaudio-utils xwayland wayland-utils x11-utils x11-xserver-utils
    xauth fontconfig fonts-dejavu-core bubblewrap
    # rendering the man pages (man -l man/nook.8)
    man-db groff-base
    # the pure cgroup v2 test VM (scripts/vm/build.sh): it unpacks qemu and a
    # kernel from packages it fetches with `apt-get download`, because
    # installing bookworm's qemu-system-x86 would remove a newer qemu-utils
    # where one is installed; so only the libraries qemu-system-x86_64 links
    # against are installed here. xz-utils unpacks the kernel, binutils
    # strips nook for the initramfs.
    xz-utils binutils
    # the D-Bus client test (integration/dbus_client.rs) starts a private
    # dbus-daemon; the systemd test VM (scripts/vm/systemd-build.sh) builds
    # its Debian root filesystem with mmdebstrap into an ext4 image
    # (mkfs.ext4 -d, from e2fsprogs)
    dbus mmdebstrap e2fsprogs
    libaio1 libbpf1 libcapstone4 libfdt1 libfuse3-3 libglib2.0-0 libgmp10
    libgnutls30 libibverbs1 libjpeg62-turbo libnuma1 libpixman-1-0 libpmem1
    libpng16-16 librdmacm1 libsasl2-2 libseccomp2 libslirp0 libudev1
    liburing2 libvdeplug2 libzstd1 zlib1g
)

apt-get update
# --no-install-recommends: podman's recommends pull in networking helpers the
# tests do not use (they run with netns=none), and docker.io's would mount
# cgroups on the host (cgroupfs-mount).
apt-get install -y --no-install-recommends "${packages[@]}"

# Rust: rustup's stable toolchain, only when no cargo is on PATH.
if command -v cargo >/dev/null 2>&1; then
    echo "cargo found: $(cargo --version)"
elif [ -x "$HOME/.cargo/bin/cargo" ]; then
    echo "cargo found in $HOME/.cargo/bin (add it to PATH): $("$HOME/.cargo/bin/cargo" --version)"
else
    echo "cargo not found: installing the stable Rust toolchain with rustup (needs network)"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
        sh -s -- -y --profile minimal --default-toolchain stable --component clippy,rustfmt
    echo "Rust installed in $HOME/.cargo; run: . \"\$HOME/.cargo/env\""
fi

# CRIU for checkpoint/restore (nook checkpoint/restore, integration/checkpoint.rs):
# Debian 12's criu fails on newer kernels, so trixie's is unpacked under
# /opt/nook-criu with its own loader (see the script).
"$(dirname "$0")/criu-host.sh"
