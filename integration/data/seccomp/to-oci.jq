# The containers/common (Podman's, derived from Docker's) default seccomp
# profile → an OCI config.json `linux.seccomp` object for one architecture
# and capability set, as Podman and Docker do when they write config.json:
# keep the syscall groups whose includes match and whose excludes do not.
# includes.minKernel is taken as met (the kernels nook supports are newer
# than any minKernel in these profiles).
# Usage: jq --arg arch amd64 --argjson caps '["CAP_KILL",...]' -f to-oci.jq containers-default.json
def scmp_arch: {amd64: "SCMP_ARCH_X86_64", arm64: "SCMP_ARCH_AARCH64"}[.];
def matches($inc): ($inc.arches // [] | length == 0 or index($arch) != null)
    and ($inc.caps // [] | all(. as $c | $caps | index($c) != null));
def excluded($exc): ($exc.arches // [] | index($arch) != null)
    or ($exc.caps // [] | any(. as $c | $caps | index($c) != null));
($arch | scmp_arch) as $main
| . as $profile
| {
    defaultAction,
    architectures: ([$main] + (.archMap[] | select(.architecture == $main) | .subArchitectures)),
    syscalls: [
      .syscalls[]
      | select(matches(.includes // {}) and (excluded(.excludes // {}) | not))
      | {names, action} + (if .errnoRet then {errnoRet} else {} end)
        + (if (.args // []) | length > 0 then {args} else {} end)
    ]
  }
  + (if $profile.defaultErrnoRet then {defaultErrnoRet: $profile.defaultErrnoRet} else {} end)
