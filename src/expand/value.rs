//! Expansion values: bytes plus Exim's taint flag.

/// A string value. Exim strings are bytes, not necessarily UTF-8.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Val {
    pub bytes: Vec<u8>,
    /// Derived from the network or the message (see Exim's taint model).
    pub tainted: bool,
}

impl Val {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Val {
        Val {
            bytes: bytes.into(),
            tainted: false,
        }
    }

    pub fn tainted(bytes: impl Into<Vec<u8>>) -> Val {
        Val {
            bytes: bytes.into(),
            tainted: true,
        }
    }

    /// A new value carrying this one's taint.
    pub fn derive(&self, bytes: impl Into<Vec<u8>>) -> Val {
        Val {
            bytes: bytes.into(),
            tainted: self.tainted,
        }
    }

    #[inline]
    pub fn push(&mut self, other: &Val) {
        self.bytes.extend_from_slice(&other.bytes);
        self.tainted |= other.tainted;
    }

    #[inline]
    pub fn push_bytes(&mut self, b: &[u8]) {
        self.bytes.extend_from_slice(b);
    }

    pub fn as_str_lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.bytes)
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

impl From<&str> for Val {
    fn from(s: &str) -> Val {
        Val::new(s.as_bytes())
    }
}

impl From<String> for Val {
    fn from(s: String) -> Val {
        Val::new(s.into_bytes())
    }
}
