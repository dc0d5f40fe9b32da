//! Build script: embeds the theorem cards (`theorems/*.toml`) into the binary and records the git
//! commit the binary was built from (`MIRRORFLOW_GIT_COMMIT`, empty when unknown).

use std::path::Path;
use std::process::Command;

fn main() {
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = Path::new(&root).join("theorems");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("theorems/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut code =
        String::from("/// The built-in cards: (file name, text).\npub static BUILTIN: &[(&str, &str)] = &[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f.file_name().and_then(|n| n.to_str()).expect("UTF-8 card file name");
        code += &format!("    ({name:?}, include_str!({:?})),\n", f.display().to_string());
    }
    code += "];\n";
    let out = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("builtin_cards.rs");
    std::fs::write(out, code).expect("OUT_DIR is writable");

    // the commit: `git rev-parse HEAD` when git and a repository are there, else empty
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(&root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let commit = git(&["rev-parse", "HEAD"]).unwrap_or_default();
    println!("cargo:rustc-env=MIRRORFLOW_GIT_COMMIT={commit}");
    // rebuild when HEAD moves (a worktree's HEAD and refs live in its own git dir)
    if let Some(head) = git(&["rev-parse", "--git-path", "HEAD"]) {
        println!("cargo:rerun-if-changed={}", Path::new(&root).join(head).display());
    }
    if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
        if let Some(path) = git(&["rev-parse", "--git-path", &reference]) {
            println!("cargo:rerun-if-changed={}", Path::new(&root).join(path).display());
        }
    }
    if let Some(packed) = git(&["rev-parse", "--git-path", "packed-refs"]) {
        println!("cargo:rerun-if-changed={}", Path::new(&root).join(packed).display());
    }
}
