//! The token emitter: receives tokens and whitespace intents from the walker, weaves the
//! source's comments in at the right places, and produces text for the tabwriter.
//!
//! This follows the model of Alloy's printer closely because `alloy fmt`'s output depends on its
//! details:
//!
//! - Whitespace is *buffered* as intents ([`Ws`]) and only materialises when the next token is
//!   written, so nothing trails the last token and comments can replace pending line breaks.
//! - The emitter tracks an approximate source position: tokens written with an explicit
//!   position (via [`Emitter::at`]) reset it, other tokens advance it by their printed length.
//!   Every comment that starts at or before that position is written before the token.
//! - A comment on the same line as the previous token is separated by a tab (a space when the
//!   next token is on that line too); otherwise the source's line breaks before it are kept, at
//!   most one blank line.
//! - Comments are wrapped in escape markers so the tabwriter treats them as opaque text.

use super::positions::{Position, SourceIndex};
use super::tabwriter::ESCAPE;

/// A whitespace intent. The byte values are what ends up in the tabwriter input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ws {
    /// Placeholder for an intent a comment made obsolete.
    Ignore,
    Blank,
    /// Column separator: aligns what follows across consecutive lines.
    VTab,
    Newline,
    /// A line break that also ends every alignment block.
    Formfeed,
    Indent,
    Unindent,
}

impl Ws {
    fn byte(self) -> Option<u8> {
        match self {
            Ws::Blank => Some(b' '),
            Ws::VTab => Some(b'\x0b'),
            Ws::Newline => Some(b'\n'),
            Ws::Formfeed => Some(b'\x0c'),
            Ws::Ignore | Ws::Indent | Ws::Unindent => None,
        }
    }
}

/// What kind of thing was written last; only used to keep tokens from fusing when re-scanned
/// (`1` followed by `.` must not become `1.`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Last {
    Whitespace,
    /// An integer literal.
    Number,
    /// The `/` operator.
    Div,
    Other,
}

/// Alloy's whitespace buffer holds 16 intents; when full it is written out early.
const WS_CAPACITY: usize = 16;
/// At most this many line breaks in a row: one blank line.
const MAX_NEWLINES: i64 = 2;

struct CommentRef {
    start: Position,
    /// Line of the comment's last character, measured as Alloy does: from the start offset plus
    /// the text length (the text may be shorter than the source when `\r`s were stripped).
    end_line: i64,
    text: String,
}

pub(crate) struct Emitter<'a> {
    index: &'a SourceIndex<'a>,
    out: Vec<u8>,
    indent: i64,
    last_tok: Last,
    ws: Vec<Ws>,
    groups: Vec<Vec<CommentRef>>,
    /// Index of the next comment group to write.
    next_group: usize,
    /// Approximate source position of the next token.
    pos: Position,
    /// Source position just after the last token or comment written.
    last: Position,
    /// One-based output column; 1 means indentation is still due on this line.
    out_col: i64,
}

impl<'a> Emitter<'a> {
    /// `comments` are `(start offset, text)` pairs in source order.
    pub fn new(index: &'a SourceIndex<'a>, comments: Vec<(usize, String)>, src: &str) -> Self {
        Emitter {
            index,
            out: Vec::new(),
            indent: 0,
            last_tok: Last::Whitespace,
            ws: Vec::with_capacity(WS_CAPACITY),
            groups: group_comments(index, comments, src),
            next_group: 0,
            pos: Position { offset: 0, line: 1 },
            last: Position::NONE,
            out_col: 1,
        }
    }

    /// Buffers a whitespace intent.
    pub fn ws(&mut self, w: Ws) {
        if w == Ws::Ignore {
            return;
        }
        if self.ws.len() == WS_CAPACITY {
            self.write_whitespace(WS_CAPACITY);
        }
        self.ws.push(w);
        self.last_tok = Last::Whitespace;
    }

    /// Sets the source position of the next token.
    pub fn at(&mut self, offset: usize) {
        self.pos = self.index.position(offset);
    }

    /// Writes punctuation or an operator.
    pub fn token(&mut self, text: &str, kind: Last) {
        if self.needs_separator(text) {
            self.ws.push(Ws::Blank);
        }
        self.last_tok = kind;
        self.write_token(text);
    }

    /// Writes an identifier or a literal (never separated from what precedes it).
    pub fn word(&mut self, text: &str, kind: Last) {
        self.last_tok = kind;
        self.write_token(text);
    }

    /// Writes the comments left after the last token and returns the tabwriter input.
    pub fn finish(mut self) -> Vec<u8> {
        self.flush(Position::EOF, true);
        self.out
    }

    fn needs_separator(&self, next: &str) -> bool {
        let first = next.as_bytes().first().copied();
        match self.last_tok {
            Last::Number => first == Some(b'.'),
            Last::Div => first == Some(b'*'),
            Last::Whitespace | Last::Other => false,
        }
    }

    fn write_token(&mut self, text: &str) {
        let next = self.pos;
        self.flush(next, false);
        self.write_string(Some(next), text.as_bytes(), false);
    }

    /// Writes pending comments before `next`, or else the pending whitespace.
    fn flush(&mut self, next: Position, eof: bool) {
        if self.comment_before(next) {
            self.inject_comments(next, eof);
        } else if !eof {
            self.write_whitespace(self.ws.len());
        }
    }

    fn comment_before(&self, next: Position) -> bool {
        self.groups
            .get(self.next_group)
            .and_then(|g| g.first())
            .is_some_and(|c| c.start.offset <= next.offset)
    }

    fn inject_comments(&mut self, next: Position, eof: bool) {
        let mut last_comment: Option<(i64, bool)> = None;
        while self.comment_before(next) {
            let group = std::mem::take(&mut self.groups[self.next_group]);
            self.next_group += 1;
            for c in &group {
                self.write_comment_prefix(next, c);
                self.write_string(Some(c.start), c.text.as_bytes(), true);
                last_comment = Some((c.end_line, c.text.as_bytes().get(1) == Some(&b'*')));
            }
        }
        if let Some((end_line, is_block)) = last_comment {
            self.write_comment_suffix(next, eof, end_line, is_block);
        }
    }

    fn write_comment_prefix(&mut self, next: Position, c: &CommentRef) {
        if self.out.is_empty() {
            // The comment opens the file: nothing goes before it.
            return;
        }
        if c.start.line == self.last.line {
            // Same line as the last token. A tab lines trailing comments up; a block comment
            // followed by more code on its line gets a plain space.
            let sep = if c.start.line == next.line {
                b' '
            } else {
                b'\t'
            };
            self.write_byte(sep, 1);
            return;
        }
        // The comment starts a new line. Keep pending indentation changes that come before the
        // first real whitespace intent, drop that intent, and write the source's line breaks.
        let mut count = 0;
        for (i, w) in self.ws.iter_mut().enumerate() {
            match *w {
                Ws::Indent | Ws::Unindent => continue,
                Ws::Blank | Ws::VTab | Ws::Newline | Ws::Formfeed => *w = Ws::Ignore,
                Ws::Ignore => {}
            }
            count = i;
            break;
        }
        self.write_whitespace(count);
        let newlines = if c.start.is_valid() && self.last.is_valid() {
            c.start.line - self.last.line
        } else {
            0
        };
        if newlines > 0 {
            self.write_byte(b'\x0c', newlines.min(MAX_NEWLINES));
        }
    }

    fn write_comment_suffix(&mut self, next: Position, eof: bool, end_line: i64, is_block: bool) {
        if eof {
            // Nothing follows: no line breaks after the last comment.
            return;
        }
        if is_block && next.line == end_line {
            self.write_byte(b' ', 1);
        }
        let newlines = next.line - self.last.line;
        let mut dropped_formfeed = false;
        for w in self.ws.iter_mut() {
            match *w {
                Ws::Blank | Ws::VTab => *w = Ws::Ignore,
                Ws::Newline | Ws::Formfeed => {
                    dropped_formfeed |= *w == Ws::Formfeed;
                    *w = Ws::Ignore;
                }
                Ws::Indent | Ws::Unindent | Ws::Ignore => {}
            }
        }
        self.write_whitespace(self.ws.len());
        if newlines > 0 {
            let ch = if dropped_formfeed { b'\x0c' } else { b'\n' };
            self.write_byte(ch, newlines.min(MAX_NEWLINES));
        }
    }

    /// Appends text. `escaped` wraps it in tabwriter escapes (comments). Raw strings are *not*
    /// escaped, as in Alloy: tabs and line ends inside them reach the tabwriter.
    fn write_string(&mut self, pos: Option<Position>, s: &[u8], escaped: bool) {
        if self.out_col == 1 {
            self.write_indent();
        }
        if let Some(p) = pos.filter(|p| p.is_valid()) {
            self.pos = p;
        }
        if escaped {
            self.out.push(ESCAPE);
        }
        self.out.extend_from_slice(s);
        if escaped {
            self.out.push(ESCAPE);
        }
        let mut newlines = 0i64;
        let mut last_newline = 0usize;
        for (i, &b) in s.iter().enumerate() {
            if b == b'\n' || b == b'\x0c' {
                newlines += 1;
                last_newline = i;
            }
        }
        self.pos.offset += s.len() as i64;
        if newlines > 0 {
            self.pos.line += newlines;
            self.out_col = (s.len() - last_newline) as i64;
        } else {
            self.out_col += s.len() as i64;
        }
        self.last = self.pos;
    }

    fn write_indent(&mut self) {
        let depth = self.indent.max(0);
        self.out.extend(std::iter::repeat_n(b'\t', depth as usize));
        self.pos.offset += depth;
        self.out_col += depth;
    }

    /// Writes a whitespace byte `n` times.
    fn write_byte(&mut self, ch: u8, n: i64) {
        if self.out_col == 1 {
            self.write_indent();
        }
        self.out.extend(std::iter::repeat_n(ch, n.max(0) as usize));
        self.pos.offset += n;
        if ch == b'\n' || ch == b'\x0c' {
            self.pos.line += n;
            self.out_col = 1;
        } else {
            self.out_col += n;
        }
    }

    /// Applies the first `n` buffered whitespace intents and removes them from the buffer.
    fn write_whitespace(&mut self, n: usize) {
        let n = n.min(self.ws.len());
        for i in 0..n {
            let w = self.ws[i];
            match w {
                Ws::Indent => self.indent += 1,
                // Alloy panics on negative indentation; the walker never unbalances it.
                Ws::Unindent => self.indent = (self.indent - 1).max(0),
                _ => {
                    if let Some(b) = w.byte() {
                        self.write_byte(b, 1);
                    }
                }
            }
        }
        self.ws.drain(..n);
    }
}

/// Groups comments as Alloy's parser does: a group is a run of comments with only whitespace
/// between them, each starting at most one line below where the previous one ended. A group is
/// written as a whole as soon as its first comment is due.
fn group_comments(
    index: &SourceIndex<'_>,
    comments: Vec<(usize, String)>,
    src: &str,
) -> Vec<Vec<CommentRef>> {
    let mut groups: Vec<Vec<CommentRef>> = Vec::new();
    let mut prev_end: Option<(usize, i64)> = None;
    for (start, text) in comments {
        let start_pos = index.position(start);
        // Grouping counts the comment's newlines; placement uses its end offset (as Alloy does).
        let group_end_line = start_pos.line + text.matches('\n').count() as i64;
        let end_line = index.line_of((start + text.len()).saturating_sub(1).max(start));
        let raw_len = raw_comment_len(src, start, &text);
        let joins = prev_end.is_some_and(|(prev_hi, prev_line)| {
            start_pos.line <= prev_line + 1
                && src
                    .get(prev_hi..start)
                    .is_some_and(|between| between.bytes().all(|b| b.is_ascii_whitespace()))
        });
        let c = CommentRef {
            start: start_pos,
            end_line,
            text,
        };
        match groups.last_mut() {
            Some(g) if joins => g.push(c),
            _ => groups.push(vec![c]),
        }
        prev_end = Some((start + raw_len, group_end_line));
    }
    groups
}

/// Length of a comment in the source, which may exceed its text when `\r`s were stripped.
fn raw_comment_len(src: &str, start: usize, text: &str) -> usize {
    let rest = src.get(start..).unwrap_or("");
    if text.starts_with("/*") {
        rest.find("*/").map(|i| i + 2).unwrap_or(rest.len())
    } else {
        rest.find('\n').unwrap_or(rest.len())
    }
}
