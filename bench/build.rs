//! Embeds the git revision the bench tool is built from, so `--json` reports name the code
//! that ran, wherever the binary is run from: `RINGMQ_GIT_REVISION` (a commit id, or
//! `unknown` outside a git checkout or without git) and `RINGMQ_GIT_DIRTY` (`true` when tracked
//! files differed from that commit at build time, `false`, or `unknown`). Setting
//! `RINGMQ_GIT_REVISION` in the build environment overrides the lookup (builds from a source
//! archive). The build never fails for want of git.
//!
//! The script runs again when the checkout moves (HEAD, the branch ref, the index) or a source
//! file of the workspace changes, so both values follow the code that is compiled.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Workspace paths whose changes can make the tree dirty, relative to the workspace root.
const WATCHED: [&str; 10] = [
    "Cargo.toml",
    "Cargo.lock",
    "src",
    "tests",
    "engine/src",
    "protocol/src",
    "namesrv/src",
    "broker/src",
    "bench/src",
    "bench/build.rs",
];

fn git(directory: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(directory)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    (output.status.success() && !text.is_empty()).then_some(text)
}

/// Ask cargo to run this script again when the checkout's HEAD, branch or index moves.
fn watch_checkout(directory: &Path) {
    let Some(git_dir) = git(directory, &["rev-parse", "--git-dir"]) else {
        return;
    };
    let git_dir = directory.join(git_dir);
    for file in ["HEAD", "index"] {
        println!("cargo:rerun-if-changed={}", git_dir.join(file).display());
    }
    let common = git(directory, &["rev-parse", "--git-common-dir"])
        .map_or_else(|| git_dir.clone(), |common| directory.join(common));
    println!(
        "cargo:rerun-if-changed={}",
        common.join("packed-refs").display()
    );
    if let Some(branch) = git(directory, &["symbolic-ref", "-q", "HEAD"]) {
        println!("cargo:rerun-if-changed={}", common.join(branch).display());
    }
}

fn main() {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(PathBuf::new, PathBuf::from);
    let root = manifest
        .parent()
        .map_or_else(|| manifest.clone(), Path::to_path_buf);
    println!("cargo:rerun-if-env-changed=RINGMQ_GIT_REVISION");
    for path in WATCHED {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }
    watch_checkout(&root);
    let given = std::env::var("RINGMQ_GIT_REVISION")
        .ok()
        .filter(|revision| !revision.trim().is_empty());
    let revision = given
        .clone()
        .or_else(|| git(&root, &["rev-parse", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    let dirty = if given.is_some() {
        "unknown"
    } else {
        match Command::new("git")
            .args(["status", "--porcelain", "--untracked-files=no"])
            .current_dir(&root)
            .output()
        {
            Ok(output) if output.status.success() && output.stdout.is_empty() => "false",
            Ok(output) if output.status.success() => "true",
            _ => "unknown",
        }
    };
    println!("cargo:rustc-env=RINGMQ_GIT_REVISION={revision}");
    println!("cargo:rustc-env=RINGMQ_GIT_DIRTY={dirty}");
}
