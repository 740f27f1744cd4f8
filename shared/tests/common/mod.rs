//! Helpers shared by the integration tests of enas-shared.
use std::path::PathBuf;

/// `sub` (a file or folder) in the real-data folder (`ENAS_DATA_DIR`, else `../shared/data`
/// beside the workspace), or `None` with a printed reason when it is missing; with `CI=true` a
/// missing one fails the test.
pub fn real_data(sub: &str) -> Option<PathBuf> {
    let root = std::env::var_os("ENAS_DATA_DIR").map(PathBuf::from).unwrap_or_else(|| {
        // The workspace root is the nearest folder above the crate with a Cargo.lock.
        let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let workspace = crate_dir.ancestors().find(|d| d.join("Cargo.lock").exists()).unwrap_or(&crate_dir);
        workspace.join("../shared/data")
    });
    let path = root.join(sub);
    if path.exists() {
        return Some(path);
    }
    let why = format!("real data {} is missing", path.display());
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{why} (CI=true requires it)");
    eprintln!("skipping: {why}; set ENAS_DATA_DIR to run this test");
    None
}
