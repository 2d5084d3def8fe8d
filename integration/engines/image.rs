//! The busybox image as an OCI image-layout archive, for `ctr images
//! import` (there is no registry here). One uncompressed layer (the rootfs
//! tar of scripts/build-rootfs.sh), a config, a manifest and an index whose
//! `io.containerd.image.name` annotation names the image.

use serde_json::json;
use std::fs;
use std::path::Path;
use std::process::Command;

/// Write `archive` (a tar of an OCI layout) holding `name` built from the
/// rootfs tar `layer`. Digests come from sha256sum(1).
pub fn write_oci_archive(layer: &Path, name: &str, archive: &Path) {
    let dir = archive.with_extension("layout");
    let _ = fs::remove_dir_all(&dir);
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).expect("create blobs dir");

    let layer_bytes =
        fs::read(layer).unwrap_or_else(|e| panic!("read layer {}: {e}", layer.display()));
    let layer_desc = put_blob(
        &blobs,
        &layer_bytes,
        "application/vnd.oci.image.layer.v1.tar",
    );
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let config = json!({
        "architecture": arch,
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["sh"],
        },
        "rootfs": {"type": "layers", "diff_ids": [layer_desc["digest"]]},
    });
    let config_desc = put_blob(
        &blobs,
        config.to_string().as_bytes(),
        "application/vnd.oci.image.config.v1+json",
    );
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config_desc,
        "layers": [layer_desc],
    });
    let mut manifest_desc = put_blob(
        &blobs,
        manifest.to_string().as_bytes(),
        "application/vnd.oci.image.manifest.v1+json",
    );
    manifest_desc["platform"] = json!({"architecture": arch, "os": "linux"});
    manifest_desc["annotations"] = json!({
        "io.containerd.image.name": name,
        "org.opencontainers.image.ref.name": "latest",
    });
    let index = json!({"schemaVersion": 2, "manifests": [manifest_desc]});
    fs::write(dir.join("index.json"), index.to_string()).expect("write index.json");
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)
        .expect("write oci-layout");

    let status = Command::new("tar")
        .arg("-C")
        .arg(&dir)
        .arg("-cf")
        .arg(archive)
        .arg(".")
        .status()
        .expect("run tar");
    assert!(status.success(), "tar of {} failed", dir.display());
    let _ = fs::remove_dir_all(&dir);
}

/// Store `bytes` under its digest; its descriptor.
fn put_blob(blobs: &Path, bytes: &[u8], media_type: &str) -> serde_json::Value {
    let tmp = blobs.join("incoming");
    fs::write(&tmp, bytes).expect("write blob");
    let out = Command::new("sha256sum")
        .arg(&tmp)
        .output()
        .expect("run sha256sum");
    let text = String::from_utf8_lossy(&out.stdout);
    let hex = text.split_whitespace().next().unwrap_or("").to_string();
    assert_eq!(hex.len(), 64, "sha256sum printed {text:?}");
    fs::rename(&tmp, blobs.join(&hex)).expect("name blob by digest");
    json!({"mediaType": media_type, "digest": format!("sha256:{hex}"), "size": bytes.len()})
}
