//! The fast front end's sequence assembly: merges adjacent text, turns text that is one
//! run of the source into a range of it, stops at the first error (as Exim does).
//!
//! Pending text is flushed before a `$` is parsed, so text that is not one run of the
//! source (escapes) needs only one scratch buffer per parse, not one per nesting level:
//! the scratch buffer is always empty when a nested sequence starts.

use std::sync::Arc;

use crate::expand::ast::{Node, Nodes, Seq, Span, Text};

/// What text pieces are made from: the source, shared when its ranges can be kept.
#[derive(Clone, Copy)]
pub(super) struct TextSource<'s> {
    pub src: &'s [u8],
    /// The source as a shared buffer (absent for mapped non-UTF-8 input).
    pub shared: Option<&'s Arc<[u8]>>,
    /// The source carries stand-ins for non-UTF-8 bytes, mapped back in each text piece.
    pub unmap: bool,
}

impl TextSource<'_> {
    fn text_of(&self, bytes: &[u8]) -> Text {
        if self.unmap {
            Text::from(super::unmap_bytes(bytes))
        } else {
            Text::from(bytes)
        }
    }
}

/// The pieces of one sequence being scanned.
#[derive(Default)]
pub(super) struct Pieces {
    nodes: Nodes,
    static_err: Option<Arc<crate::error::ExpandError>>,
    /// An error node has been added: everything after it is read but dropped.
    stopped: bool,
    /// Pending text that is one unbroken run of the source (empty when equal); when the
    /// scratch buffer holds pending text, this is empty.
    run_start: usize,
    run_end: usize,
}

impl Pieces {
    /// Add `src[start..end]`.
    #[inline(always)]
    pub fn run(&mut self, scratch: &mut Vec<u8>, ts: TextSource, start: usize, end: usize) {
        if self.stopped || start == end {
            return;
        }
        if !scratch.is_empty() {
            scratch.extend_from_slice(&ts.src[start..end]);
        } else if self.run_start == self.run_end {
            (self.run_start, self.run_end) = (start, end);
        } else if self.run_end == start {
            self.run_end = end;
        } else {
            self.materialize(scratch, ts);
            scratch.extend_from_slice(&ts.src[start..end]);
        }
    }

    /// Move a pending run into the scratch buffer (text that is not part of it follows).
    fn materialize(&mut self, scratch: &mut Vec<u8>, ts: TextSource) {
        if self.run_start != self.run_end {
            scratch.extend_from_slice(&ts.src[self.run_start..self.run_end]);
            self.run_end = self.run_start;
        }
    }

    /// The scratch buffer with the pending text in it, to append text that is not a
    /// range of the source; `None` once stopped (the text would be dropped).
    pub fn owned<'b>(
        &mut self,
        scratch: &'b mut Vec<u8>,
        ts: TextSource,
    ) -> Option<&'b mut Vec<u8>> {
        if self.stopped {
            return None;
        }
        self.materialize(scratch, ts);
        Some(scratch)
    }

    /// Turn pending text into a node (before a `$` is parsed, and at the end).
    #[inline]
    pub fn flush(&mut self, scratch: &mut Vec<u8>, ts: TextSource) {
        // Most calls find nothing pending: answered without a call.
        if self.run_start != self.run_end || !scratch.is_empty() {
            self.flush_pending(scratch, ts);
        }
    }

    #[inline(never)]
    fn flush_pending(&mut self, scratch: &mut Vec<u8>, ts: TextSource) {
        if self.stopped {
            scratch.clear();
            return;
        }
        if self.run_start != self.run_end {
            let t = match ts.shared {
                Some(buf) => Text::shared(buf, self.run_start, self.run_end),
                None => ts.text_of(&ts.src[self.run_start..self.run_end]),
            };
            self.run_end = self.run_start;
            self.nodes.push(Node::Text(t));
        } else if !scratch.is_empty() {
            let t = ts.text_of(scratch);
            scratch.clear();
            self.nodes.push(Node::Text(t));
        }
    }

    /// Add a node after the pending text; an error node stops the sequence.
    #[inline]
    pub fn node(&mut self, scratch: &mut Vec<u8>, ts: TextSource, n: Node) {
        self.flush(scratch, ts);
        if self.stopped {
            return;
        }
        if self.static_err.is_none() {
            self.static_err = n.static_err_of_kind();
        }
        self.stopped = matches!(n, Node::Error(_));
        self.nodes.push(n);
    }

    #[inline]
    pub fn finish(mut self, scratch: &mut Vec<u8>, ts: TextSource, span: Span) -> Seq {
        self.flush(scratch, ts);
        Seq {
            nodes: self.nodes,
            static_err: self.static_err,
            span,
        }
    }
}
