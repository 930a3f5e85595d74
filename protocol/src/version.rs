//! Protocol versions and the compatibility rule: the major must match, the minor is
//! negotiated down to the lower of the two.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A protocol version `major.minor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ProtocolVersion {
    /// Incompatible changes bump the major; peers with different majors cannot talk.
    pub major: u16,
    /// Compatible additions bump the minor; peers use the lower of the two minors.
    pub minor: u16,
}

impl ProtocolVersion {
    /// The version this crate speaks.
    pub const CURRENT: ProtocolVersion = ProtocolVersion { major: 1, minor: 0 };

    /// Builds a version.
    pub const fn new(major: u16, minor: u16) -> Self {
        ProtocolVersion { major, minor }
    }

    /// Whether two peers speaking `self` and `other` can talk.
    pub fn is_compatible(self, other: ProtocolVersion) -> bool {
        self.major == other.major
    }

    /// The version both sides use, or `None` when the majors differ.
    pub fn negotiate(self, other: ProtocolVersion) -> Option<ProtocolVersion> {
        self.is_compatible(other).then(|| ProtocolVersion {
            major: self.major,
            minor: self.minor.min(other.minor),
        })
    }
}

impl Default for ProtocolVersion {
    fn default() -> Self {
        ProtocolVersion::CURRENT
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_must_match_minor_goes_down() {
        let a = ProtocolVersion::new(1, 3);
        assert_eq!(
            a.negotiate(ProtocolVersion::new(1, 1)),
            Some(ProtocolVersion::new(1, 1))
        );
        assert_eq!(a.negotiate(ProtocolVersion::new(2, 0)), None);
        assert!(!a.is_compatible(ProtocolVersion::new(0, 3)));
    }
}
