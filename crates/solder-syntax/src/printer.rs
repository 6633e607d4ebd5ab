//! The canonical formatter: `solder fmt` prints exactly what `alloy fmt` prints.
//!
//! Formatting is a pipeline of four stages, mirroring how Alloy's printer produces its output
//! (the quirks of its output come from this structure, so the structure is kept):
//!
//! 1. [`walker`] walks the tree and emits tokens plus whitespace *intents* (blank, column
//!    separator, newline, formfeed, indent, unindent), deciding line breaks from the author's
//!    source lines.
//! 2. [`emitter`] materialises the intents, weaves every comment back in at its source position
//!    and tracks indentation.
//! 3. [`tabwriter`] aligns columns (the `=` of consecutive attributes and object fields,
//!    trailing comments) with elastic tabstops.
//! 4. [`trim`] removes trailing blanks and the comment escape markers.
//!
//! Finally a newline is appended, as `alloy fmt` does.

mod emitter;
mod positions;
mod quote;
mod tabwriter;
mod trim;
mod verify;
mod walker;

pub(crate) use quote::go_quote;
pub use verify::verify_formatting;

use crate::ast;
use crate::diag::Diagnostics;
use crate::parser::parse_file;
use crate::span::FileId;

use emitter::Emitter;
use positions::SourceIndex;
use walker::Walker;

/// Formats a parsed file. `src` must be the text `file` was parsed from: comments, blank lines
/// and the author's line breaks are read from it. The result ends with a newline.
pub fn format_file(file: &ast::File, src: &str) -> String {
    let index = SourceIndex::new(src, &file.comments);
    let mut comments: Vec<(usize, String)> = file
        .comments
        .iter()
        .map(|c| (c.span.lo as usize, scanned_comment_text(&c.text)))
        .collect();
    // Comment placement walks them in source order.
    comments.sort_by_key(|c| c.0);
    let mut walker = Walker {
        index: &index,
        em: Emitter::new(&index, comments, src),
    };
    walker.stmts(&file.body);
    let raw = walker.em.finish();
    let aligned = tabwriter::align(&raw);
    let trimmed = trim::trim(&aligned);
    let mut out = String::from_utf8_lossy(&trimmed).into_owned();
    out.push('\n');
    out
}

/// Parses `src` (as file 0) and formats it. Any parse error is returned instead.
pub fn format_source(src: &str) -> Result<String, Diagnostics> {
    let (file, diags) = parse_file(src, FileId(0));
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(format_file(&file, src))
}

/// A comment's text as Alloy's scanner yields it: a final `\r` (CRLF line end) is dropped and
/// so is every other `\r`, except one between `*` and `/` in a block comment. Text that has no
/// `\r` is returned unchanged, so this is harmless if the parser already did it.
fn scanned_comment_text(text: &str) -> String {
    if !text.contains('\r') {
        return text.to_string();
    }
    let text = text.strip_suffix('\r').unwrap_or(text);
    let block = text.starts_with("/*");
    let bytes = text.as_bytes();
    let mut kept: Vec<u8> = Vec::with_capacity(bytes.len());
    for (j, &b) in bytes.iter().enumerate() {
        let keep_cr = block
            && kept.len() > 2
            && kept.last() == Some(&b'*')
            && bytes.get(j + 1) == Some(&b'/');
        if b != b'\r' || keep_cr {
            kept.push(b);
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

#[cfg(test)]
mod tests {
    use super::scanned_comment_text;

    #[test]
    fn comment_carriage_returns_are_stripped_like_alloy() {
        assert_eq!(scanned_comment_text("// a\r"), "// a");
        assert_eq!(scanned_comment_text("/* a\r\n b */"), "/* a\n b */");
        assert_eq!(scanned_comment_text("// plain"), "// plain");
    }
}
