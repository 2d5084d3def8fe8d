#!/bin/bash
# Build the checkpoint/restore test VM: the cgroup v2 VM of scripts/vm/build.sh
# plus what CRIU needs, as two more archives appended to its initrd (the
# kernel unpacks concatenated archives, later files replacing earlier ones):
#
#   criu.cpio   Debian 12's criu 3.17.1 and the tools it runs, with their
#               libraries: `ip` (iproute2), iptables-nft (xtables-nft-multi
#               and its extension modules), GNU tar (busybox tar cannot
#               archive criu's tmpfs images); and the kernel modules criu
#               needs that Debian builds as modules (socket *_diag, tun,
#               veth, nf_tables, nf_conntrack_netlink, ...), with
#               /lib/modules/criu.order listing them in load order.
#               Changes rarely.
#   criu-test.cpio  the test script (as /test.sh, replacing the cgroup one)
#               and recvtty (scripts/vm/recvtty.c, built static), the console
#               socket receiver for the terminal container.
#   criu-initrd.cpio  base.cpio + nook.cpio + criu.cpio + criu-test.cpio:
#               what scripts/vm/run.sh boots with VM_INITRD.
#
#   scripts/vm/criu-build.sh [NOOK_BINARY]     (default target/debug/nook)
#
# Every package comes from Debian's archive with `apt-get download` and is
# unpacked with dpkg -x, never installed. A library found in none of the
# downloaded packages is taken from the host (libc, gnutls, ...: Debian 12
# packages too), as build.sh does for runc. Environment: VM_DIR (default
# target/vm), VM_CRIU_TEST_SCRIPT (default scripts/vm/criu-test.sh).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export VM_DIR=${VM_DIR:-$repo/target/vm}
nook=${1:-$repo/target/debug/nook}
test_script=${VM_CRIU_TEST_SCRIPT:-$here/criu-test.sh}
busybox=/bin/busybox

die() { echo "$0: $*" >&2; exit 1; }

command -v cc >/dev/null || die "cc not found; install build-essential (scripts/install-deps.sh)"

# qemu, the kernel, base.cpio and nook.cpio (cached there). Its own initrd
# keeps the cgroup test script; ours replaces /test.sh in a later archive.
# Exit 77 (integration/checkpoint_vm.rs skips) when the kernel or qemu
# cannot be fetched; any other failure is an error.
CANNOT_FETCH=77
if ! "$here/build.sh" "$nook" >/dev/null; then
    if [ ! -s "$VM_DIR/vmlinux" ] || [ ! -x "$VM_DIR/qemu/usr/bin/qemu-system-x86_64" ]; then
        echo "$0: cannot obtain the VM's kernel or qemu (see above)" >&2
        exit $CANNOT_FETCH
    fi
    die "scripts/vm/build.sh failed"
fi
vm_dir=$(cd "$VM_DIR" && pwd)

# The packages whose files go into criu.cpio: the programs, and the
# libraries they link that a Debian 12 host does not always have.
packages=(
    criu libnftables1 libprotobuf-c1 libnl-3-200 libnet1 libjansson4
    iptables libxtables12 libnftnl11 libmnl0 libnetfilter-conntrack3 libnfnetlink0
    iproute2 libbpf1 libelf1 libcap2
    tar
)
# The kernel modules criu's `check`, `dump` and `restore` use, by name; what
# they depend on is added from each module's own `depends=` list.
#   *_diag: criu lists a task's sockets through sock_diag netlink
#   tun, veth: `criu check` probes them; network namespaces with devices
#   nf_tables, nft_compat, xt_mark, xt_conntrack, nft_ct: iptables-nft rules
#       criu installs to lock the network during dump and restore
#   nf_conntrack_netlink: conntrack entries of the network namespace
# crc32c_generic first: libcrc32c (nf_tables needs it) asks the crypto API
# for crc32c when it loads, and nothing declares that dependency.
modules=(
    crc32c_generic
    unix_diag inet_diag tcp_diag udp_diag raw_diag netlink_diag af_packet_diag
    tun veth
    nf_tables nft_compat nft_ct xt_mark xt_conntrack nf_conntrack_netlink
)

download() { # PACKAGE...
    (cd "$vm_dir/debs" && apt-get download -q "$@" 2>&1 | grep -v -e '^W: Download is performed unsandboxed' >&2 || true)
    for p in "$@"; do
        if ! ls "$vm_dir/debs/${p}"_*.deb >/dev/null 2>&1; then
            echo "$0: apt-get download $p failed (run apt-get update?)" >&2
            exit $CANNOT_FETCH
        fi
    done
}

# The newest downloaded .deb of PACKAGE.
deb_of() { ls "$vm_dir/debs/${1}"_*.deb | tail -1; }

pack() { # DIR OUT (as build.sh: reproducible newc archive, root-owned, 512-byte padded)
    (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | "$busybox" cpio -o -H newc -R 0:0 2>/dev/null) >"$2.tmp"
    truncate -s %512 "$2.tmp"
    mv "$2.tmp" "$2"
}

# The files' contents only: the same script run by another path (relative,
# absolute) must not look changed.
inputs_key() { # FILE...
    sha256sum "$@" | cut -d' ' -f1 | sha256sum | cut -d' ' -f1
}

# --- criu.cpio -------------------------------------------------------------
kernel=$(cat "$vm_dir/kernel-version")
kernel=${kernel#vmlinuz-}
# base.cpio's files are left out (libc, ...): keyed on it too.
criu_key=$( (inputs_key "$0" "$vm_dir/base.key"; echo "$kernel") | sha256sum | cut -d' ' -f1)
if [ ! -s "$vm_dir/criu.cpio" ] || [ "$(cat "$vm_dir/criu.key" 2>/dev/null)" != "$criu_key" ]; then
    echo "vm: building criu.cpio" >&2
    download "${packages[@]}"
    unpacked=$vm_dir/criu.unpacked
    root=$vm_dir/criu.root
    rm -rf "$unpacked" "$root"
    mkdir -p "$unpacked" "$root"
    for p in "${packages[@]}"; do
        dpkg -x "$(deb_of "$p")" "$unpacked"
    done
    libpath=$unpacked/lib/x86_64-linux-gnu:$unpacked/usr/lib/x86_64-linux-gnu
    in_base=$("$busybox" cpio -t <"$vm_dir/base.cpio" 2>/dev/null)

    # Copy FILE (a path inside the unpacked packages) to the same path in
    # the archive, with every library ldd resolves for it: from the
    # unpacked packages first, else from the host.
    copy_with_libs() { # PATH
        local file=$1 lib dest
        mkdir -p "$root/$(dirname "$file")"
        cp -L "$unpacked/$file" "$root/$file"
        if missing=$(LD_LIBRARY_PATH=$libpath ldd "$unpacked/$file" | grep 'not found'); then
            die "$file lacks libraries: $missing"
        fi
        for lib in $(LD_LIBRARY_PATH=$libpath ldd "$unpacked/$file" | grep -o '/[^ ]*'); do
            # A library from the packages goes where its package puts it.
            dest=${lib#"$unpacked"}
            grep -qxF "${dest#/}" <<<"$in_base" && continue
            mkdir -p "$root/$(dirname "$dest")"
            [ -e "$root/$dest" ] || cp -L "$lib" "$root/$dest"
        done
    }

    copy_with_libs usr/sbin/criu
    copy_with_libs bin/ip
    copy_with_libs bin/tar
    copy_with_libs usr/sbin/xtables-nft-multi
    for ext in "$unpacked"/usr/lib/x86_64-linux-gnu/xtables/*.so; do
        copy_with_libs "${ext#"$unpacked/"}"
    done
    # Busybox's ip and tar sit at these paths in base.cpio: replace them
    # (and put the GNU ones first in PATH too).
    mkdir -p "$root/sbin" "$root/usr/bin"
    ln -sf /bin/ip "$root/sbin/ip"
    ln -sf /bin/tar "$root/usr/bin/tar"
    # What the iptables package's alternatives would point at: the nft variants.
    for name in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
        ln -sf xtables-nft-multi "$root/usr/sbin/$name"
    done
    # iproute2 reads its tables from /etc/iproute2.
    mkdir -p "$root/etc"
    cp -a "$unpacked/etc/iproute2" "$root/etc/"

    # The modules and everything they depend on, each after its dependencies.
    image=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/ { print $2; exit }')
    [ "$image" = "linux-image-$kernel" ] ||
        die "linux-image-amd64 now depends on $image, not the kernel in $vm_dir/vmlinux ($kernel); remove $vm_dir/vmlinux and $vm_dir/brd.ko to rebuild"
    download "$image"
    kmods=$vm_dir/criu.kmods
    rm -rf "$kmods"
    mkdir -p "$kmods"
    dpkg-deb --fsys-tarfile "$(deb_of "$image")" | tar -x -C "$kmods" --wildcards './lib/modules/*.ko'
    mkdir -p "$root/lib/modules/criu"
    : >"$root/lib/modules/criu.order"
    add_module() { # NAME
        local name=$1 file dep
        grep -qx "$name" "$root/lib/modules/criu.order" && return 0
        file=$(find "$kmods" -name "$name.ko" | head -1)
        [ -n "$file" ] || die "module $name not in $image"
        for dep in $(grep -a -o 'depends=[^[:cntrl:]]*' "$file" | head -1 | cut -d= -f2 | tr ',' ' '); do
            add_module "$dep"
        done
        cp "$file" "$root/lib/modules/criu/$name.ko"
        echo "$name" >>"$root/lib/modules/criu.order"
    }
    for m in "${modules[@]}"; do
        add_module "$m"
    done
    rm -rf "$kmods"

    pack "$root" "$vm_dir/criu.cpio"
    rm -rf "$root" "$unpacked"
    echo "$criu_key" >"$vm_dir/criu.key"
fi

# --- criu-test.cpio ----------------------------------------------------------
test_key=$(inputs_key "$test_script" "$here/recvtty.c")
if [ ! -s "$vm_dir/criu-test.cpio" ] || [ "$(cat "$vm_dir/criu-test.key" 2>/dev/null)" != "$test_key" ]; then
    echo "vm: building criu-test.cpio" >&2
    root=$vm_dir/criu-test.root
    rm -rf "$root"
    mkdir -p "$root/usr/bin"
    cc -static -O2 -Wall -Werror -o "$root/usr/bin/recvtty" "$here/recvtty.c"
    strip "$root/usr/bin/recvtty"
    install -m 0755 "$test_script" "$root/test.sh"
    pack "$root" "$vm_dir/criu-test.cpio"
    rm -rf "$root"
    echo "$test_key" >"$vm_dir/criu-test.key"
fi

parts=("$vm_dir/base.cpio" "$vm_dir/nook.cpio" "$vm_dir/criu.cpio" "$vm_dir/criu-test.cpio")
stale=
[ -s "$vm_dir/criu-initrd.cpio" ] || stale=1
for part in "${parts[@]}"; do
    [ "$part" -nt "$vm_dir/criu-initrd.cpio" ] && stale=1
done
if [ -n "$stale" ]; then
    cat "${parts[@]}" >"$vm_dir/criu-initrd.cpio.tmp"
    mv "$vm_dir/criu-initrd.cpio.tmp" "$vm_dir/criu-initrd.cpio"
fi

echo "$vm_dir"
