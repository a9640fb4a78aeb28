//! The fast front end's sequence assembly: merges adjacent text, turns text that is one
//! run of the source into a range of it, stops at the first error (as Exim does).
//!
//! Pending text is flushed before a `$` is parsed, so text that is not one run of the
//! source (escapes) needs only one scratch buffer per parse, not one per nesting level:
//! the scratch buffer is always empty when a nested sequence starts. Nodes likewise
//! collect on one stack per parse ([`Work`]); a finished sequence takes its own off the
//! top, in one allocation of the right size (or none, for one node).

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

/// Buffers shared by the sequences of one parse.
pub(super) struct Work<'s> {
    pub ts: TextSource<'s>,
    /// Pending text that is not a range of the source.
    pub scratch: Vec<u8>,
    /// Nodes of the sequences being scanned, innermost on top.
    pub nodes: Vec<Node>,
}

/// The pieces of one sequence being scanned.
pub(super) struct Pieces {
    /// Where this sequence's nodes start on [`Work::nodes`].
    base: usize,
    static_err: Option<Arc<crate::error::ExpandError>>,
    /// An error node has been added: everything after it is read but dropped.
    stopped: bool,
    /// Pending text that is one unbroken run of the source (empty when equal); when the
    /// scratch buffer holds pending text, this is empty.
    run_start: usize,
    run_end: usize,
}

impl Pieces {
    pub fn new(w: &Work) -> Pieces {
        Pieces {
            base: w.nodes.len(),
            static_err: None,
            stopped: false,
            run_start: 0,
            run_end: 0,
        }
    }

    /// Add `src[start..end]`.
    #[inline]
    pub fn run(&mut self, w: &mut Work, start: usize, end: usize) {
        let (scratch, ts) = (&mut w.scratch, w.ts);
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
    pub fn owned<'b>(&mut self, w: &'b mut Work) -> Option<&'b mut Vec<u8>> {
        if self.stopped {
            return None;
        }
        self.materialize(&mut w.scratch, w.ts);
        Some(&mut w.scratch)
    }

    /// Turn pending text into a node (before a `$` is parsed, and at the end).
    #[inline]
    pub fn flush(&mut self, w: &mut Work) {
        // Most calls find nothing pending: answered without a call.
        if self.run_start != self.run_end || !w.scratch.is_empty() {
            self.flush_pending(w);
        }
    }

    #[inline(never)]
    fn flush_pending(&mut self, w: &mut Work) {
        let (scratch, ts) = (&mut w.scratch, w.ts);
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
            w.nodes.push(Node::Text(t));
        } else if !scratch.is_empty() {
            let t = ts.text_of(scratch);
            scratch.clear();
            w.nodes.push(Node::Text(t));
        }
    }

    /// Add a node after the pending text; an error node stops the sequence.
    pub fn node(&mut self, w: &mut Work, n: Node) {
        self.flush(w);
        if self.stopped {
            return;
        }
        if self.static_err.is_none() {
            self.static_err = n.static_err_of_kind();
        }
        self.stopped = matches!(n, Node::Error(_));
        w.nodes.push(n);
    }

    pub fn finish(mut self, w: &mut Work, span: Span) -> Seq {
        self.flush(w);
        let nodes: Nodes = w.nodes.drain(self.base..).collect();
        Seq {
            nodes,
            static_err: self.static_err,
            span,
        }
    }
}
