//! FNV-1a (64 bit) fingerprints: what a resumed run checks its inputs against (a table edited
//! since the run started), and the proxy cache's key of the minibatch its scores saw. A check for
//! change, not a cryptographic hash.
use crate::{Error, Result};
use std::path::Path;

/// FNV-1a over the bytes fed to it, in order.
#[derive(Debug, Clone, Copy)]
pub struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv64 {
    pub fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }

    pub fn finish(self) -> u64 {
        self.0
    }
}

/// The fingerprint of a file's bytes, as 16 hex digits.
pub fn file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io("read", path, e))?;
    let mut h = Fnv64::default();
    h.update(&bytes);
    Ok(format!("{:016x}", h.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The FNV-1a 64 test vectors of its authors (Fowler, Noll, Vo: "FNV-1a" column of the
    /// reference test suite, fnv-1a-64 of "" and "a" and "foobar").
    #[test]
    fn matches_the_reference_vectors() {
        let of = |s: &str| {
            let mut h = Fnv64::default();
            h.update(s.as_bytes());
            h.finish()
        };
        assert_eq!(of(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(of("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(of("foobar"), 0x8594_4171_f739_67e8);
    }
}
